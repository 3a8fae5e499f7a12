"""Channel-layer group names; each carries the schema so no group is shared across companies."""


def group_name(schema_name: str, *parts) -> str:
    return ".".join([schema_name, *(str(part) for part in parts)])


def user_group(schema_name: str, user_id: int) -> str:
    return group_name(schema_name, "user", user_id)


def staff_group(schema_name: str) -> str:
    """Everyone signed in to the company's realtime channel."""
    return group_name(schema_name, "staff")


def supervisors_group(schema_name: str) -> str:
    return group_name(schema_name, "supervisors")


def company_group(schema_name: str) -> str:
    """Control messages about the company itself (suspension)."""
    return group_name(schema_name, "company")
