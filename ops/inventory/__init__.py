"""Read and check the files of `inventory/`, the single source of truth."""

from ops.inventory.loader import (
    InventoryError,
    InventoryIssue,
    check_inventory,
    default_inventory_dir,
    load_groups,
)
from ops.inventory.model import GroupsInventory, GroupSpec, StructureSpec

__all__ = [
    "GroupSpec",
    "GroupsInventory",
    "InventoryError",
    "InventoryIssue",
    "StructureSpec",
    "check_inventory",
    "default_inventory_dir",
    "load_groups",
]
