"""The web console: HTML pages over the engine the API drives, served at ``/`` by
``runbook serve``: it answers every path that ``/api/v1``, ``/hooks``, ``/slack/events``,
``/healthz`` and ``/metrics`` do not take (``server.http.build_asgi``).

The contract for a page module:

* **Routes.** Each module defines ``router = APIRouter()`` and its routes on it;
  ``runbook_engine.web.app.build_web`` includes every module's router (add yours there: one
  import, one ``include_router`` line). Paths are absolute (``/runbooks/{name}``); ``/static``,
  ``/signin`` (and ``/signin/oidc``, the IdP's sign-in) and ``/me`` are taken. Write routes
  as plain ``def`` functions: they read the store, so FastAPI runs them on the thread pool,
  off the event loop.
* **Who is asking.** Take ``user: SignedIn`` (``runbook_engine.web.session``): the signed-in
  ``Principal``, re-checked against the store on every request (a revoked or expired token
  signs its session out; a session from the IdP ends with its ID token). A visitor who is
  not signed in is redirected to ``/signin?next=<path>``. The server's engine, executor and
  authenticator are ``context_of(request)`` (``runbook_engine.api.context``), exactly as the
  API's routes see them; ``runbook_engine.api.security.may`` and ``permit`` ask the policy.
* **Rendering.** ``render(request, "page.html", **context)`` (``runbook_engine.web.templates``)
  answers an ``HTMLResponse``. Templates live in ``engine/web/templates/``, extend
  ``base.html`` and fill its blocks ``title`` and ``content``; autoescape is on. Every template
  sees ``user`` (the ``Principal`` or ``None``), ``csrf_token``, ``csrf_field()``,
  ``static_url(name)`` and ``may(action, runbook, state=None, requester=None)``, the policy's
  answer for the signed-in user (``approve`` and ``reject`` need the run's state and
  requester). Filters: ``when``, ``iso``, ``duration``, ``status_label``, ``status_class``,
  ``short`` (``web.formatting``). ``render``'s own keywords are ``status_code`` and
  ``headers``; every other keyword is the template's. Show a button only
  when ``may`` allows it; the route checks again, through the engine.
* **Forms and CSRF.** Every ``POST`` form carries ``{{ csrf_field() }}`` (a hidden
  ``csrf_token`` input). The route takes ``form: CheckedForm`` (``runbook_engine.web.csrf``):
  the parsed ``application/x-www-form-urlencoded`` body (a Starlette ``FormData``), given only
  when its token matches the session's (compared in constant time); otherwise the request is
  refused with 403 before the route runs. After a successful POST, redirect with 303
  (``RedirectResponse(url, 303)``) so a reload does not post again.
* **Feedback.** ``flash(response, request, text)`` (``runbook_engine.web.templates``) shows
  ``text`` once on the next page rendered (after the redirect); ``render(..., error="...")``
  shows an error on this one. The engine's errors raised by a route (``RunbookError``,
  ``ApiProblem``) become an error page with the API's status for them (``web.errors``).
* **Fragments.** A template meant to be swapped into a page (live updates) is named
  ``_name.html`` and does not extend ``base.html``; htmx 2 is loaded on every page
  (``/static/htmx.min.js``), and every page must stay readable with JavaScript off.
* **Scripts and styles** live in ``engine/web/static/`` (served at ``/static``; link them with
  ``static_url``, and a page's own in ``{% block head %}``). The Content-Security-Policy allows
  no inline ``<script>``, no ``style=""`` and no ``hx-on``/eval (``web.app``).
* **Templates** render with ``StrictUndefined``: a name the context lacks fails the page (and
  its test) instead of rendering as nothing.
"""
