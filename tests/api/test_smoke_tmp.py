from tests.api.conftest import ALICE, Api, BOB, CAROL
import json

def test_explore(api: Api) -> None:
    a = api.as_user(ALICE)
    print(a.get("/me").json())
    print(json.dumps(a.get("/runbooks").json())[:600])
    r = a.post("/runs", json={"runbook": "hosts"})
    print(r.status_code, r.headers, r.text)
    rid = r.json()["id"]
    api.wait_status(rid, "succeeded")
    print(json.dumps(a.get(f"/runs/{rid}/events").json(), indent=0)[:3000])
    r = a.post("/runs", json={"runbook": "gate"})
    print(r.status_code, r.text)
    rid = r.json()["id"]
    print(api.wait_settled(rid, "waiting_approval"))
    print(a.post(f"/runs/{rid}/approve").text)
    print(api.as_user(BOB).post(f"/runs/{rid}/approve").text)
    print(api.as_user(BOB).post(f"/runs/{rid}/approve").text)
    print(api.as_user(CAROL).post(f"/runs/{rid}/approve").text)
    print(api.wait_status(rid, "succeeded")["status"])
    print(api.as_user("outsider@example.com").get("/runbooks").text)
    print(a.post("/runs", json={"runbook": "leads-only"}).text)
    o = api.client(api.jwt())
    print(o.get("/me").text)
    print(o.post("/runs", json={"runbook": "leads-only"}).text)
    print(a.get("/schedules").text)
    print(a.get("/report").text)
