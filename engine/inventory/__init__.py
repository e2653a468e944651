"""The inventory: which hosts exist, how to reach them, and which ones a pattern means.

    from runbook_engine.inventory import load_inventory, select

    inventory = load_inventory()          # --inventory / $RUNBOOK_INVENTORY / ./inventory.*
    for host in select(inventory, "webservers:&staging:!web03.example.com"):
        print(host.name, host.address, host.port, host.user)

Inventories are read exactly as Ansible reads them: INI and YAML files, directories of them,
the JSON of ``ansible-inventory --list``, with ``group_vars/`` and ``host_vars/`` and
Ansible's variable precedence; patterns have Ansible's grammar and give Ansible's order.
Ansible's connection variables (``ansible_host``, ``ansible_port``, ``ansible_user``,
``ansible_ssh_private_key_file``, ProxyJump in ``ansible_ssh_common_args``, ``ansible_become``,
``ansible_become_user``, ``ansible_become_method``, ``ansible_become_password``) are honoured
next to our short names (``address``, ``port``, ``user``, ``key_file``, ``jump``,
``known_hosts``, ``host_key_checking``, ``become``, ``become_user``, ``become_method``,
``become_password``). Where this differs from Ansible on purpose, docs/ssh.md says so and why.
"""

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.loader import ENV_VAR, inventory_path, load_file, load_inventory
from runbook_engine.inventory.model import ALL, UNGROUPED, Host, Inventory, InventoryBuilder
from runbook_engine.inventory.patterns import order_terms, select, split_pattern

__all__ = [
    "ALL",
    "ENV_VAR",
    "UNGROUPED",
    "Host",
    "Inventory",
    "InventoryBuilder",
    "InventoryError",
    "inventory_path",
    "load_file",
    "load_inventory",
    "order_terms",
    "select",
    "split_pattern",
]
