from django.http import HttpRequest

from labeling.roles import Role
from labeling.selectors import user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    held = user_roles(user=request.user)
    return {
        "user_roles": sorted(r.value for r in held),
        "is_reader": Role.READER in held,
        "is_adjudicator": Role.ADJUDICATOR in held,
        "is_admin_role": Role.ADMIN in held,
    }
