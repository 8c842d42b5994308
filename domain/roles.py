"""Admin roles (SPEC §2). Super-admins come from configuration; the rest are granted."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    REVIEWER = "reviewer"  # scope: a policy field code, or "" for every field
    WASTE_OFFICER = "waste_officer"
