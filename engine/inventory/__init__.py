"""The inventory: which hosts exist, how to reach them, and which ones a pattern means.

    from runbook_engine.inventory import load_inventory, select

    inventory = load_inventory()          # --inventory / $RUNBOOK_INVENTORY / ./inventory.*
    for host in select(inventory, "web[01:04],!web03"):
        print(host.name, host.address, host.port, host.user)

Files are Ansible's YAML or INI inventories; Ansible's connection variables (``ansible_host``,
``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file``, ProxyJump in
``ansible_ssh_common_args``) are honoured next to our short names (``address``, ``port``,
``user``, ``key_file``, ``jump``, ``known_hosts``, ``host_key_checking``).
"""

from runbook_engine.inventory.errors import InventoryError
from runbook_engine.inventory.loader import ENV_VAR, inventory_path, load_file, load_inventory
from runbook_engine.inventory.model import ALL, UNGROUPED, Host, Inventory, InventoryBuilder
from runbook_engine.inventory.patterns import select, split_pattern

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
    "select",
    "split_pattern",
]
