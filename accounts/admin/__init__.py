"""Back office for accounts. Every admin save, delete and action writes an AuditLogEntry.

Access: active staff users with the admin role (or superusers). Writes with rules (account
creation, status, limits, kill switches, credentials, memberships, key revocation) go through
the services; credentials are write-only and never displayed. Split by topic: base (access +
audit mixins), users, trading (connections, accounts, memberships), risk, audit (keys, log).
Sign-in goes through allauth (login.py).
"""

from allauth.account.models import EmailAddress
from django.contrib import admin

from accounts.admin import audit, risk, trading, users  # noqa: F401  (registers the ModelAdmins)
from accounts.admin.base import AuditedAdmin, OmsAdminAccess
from accounts.admin.login import admin_login

# Other apps' admins reuse these: `from accounts.admin import AuditedAdmin, OmsAdminAccess`.
__all__ = ["AuditedAdmin", "OmsAdminAccess"]

admin.site.site_header = "OMS back office"
admin.site.site_title = "OMS back office"
admin.site.index_title = "Users, accounts, limits and audit"
admin.site.login = admin_login

# allauth's e-mail address list ("Accounts") is not used: a user's e-mail is edited on the
# user, and OMS sends no verification mail. Its name beside "Users and trading accounts"
# only misled.
if admin.site.is_registered(EmailAddress):
    admin.site.unregister(EmailAddress)
