from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import (
    views,
    views_access,
    views_invitations,
    views_members,
    views_sub_accounts,
)
from billing import urls as billing_urls

app_name = "accounts"

# The customer's users, invitations and audit trail (U2–U4, S27).
member_patterns = [
    path("c/<int:customer>/users/", views_members.member_list, name="member_list"),
    path(
        "c/<int:customer>/users/invite/",
        views_members.invitation_create,
        name="invitation_create",
    ),
    path(
        "c/<int:customer>/users/<int:membership>/",
        views_members.member_edit,
        name="member_edit",
    ),
    path(
        "c/<int:customer>/users/<int:membership>/remove/",
        views_members.member_remove,
        name="member_remove",
    ),
    path(
        "c/<int:customer>/users/<int:membership>/accounts/",
        views_members.member_accounts,
        name="member_accounts",
    ),
    path(
        "c/<int:customer>/users/<int:membership>/accounts/<int:account>/remove/",
        views_members.member_account_remove,
        name="member_account_remove",
    ),
    path(
        "c/<int:customer>/users/<int:membership>/left/",
        views_members.member_left,
        name="member_left",
    ),
    path(
        "c/<int:customer>/users/invitations/<int:invitation>/cancel/",
        views_members.invitation_cancel,
        name="invitation_cancel",
    ),
    path(
        "c/<int:customer>/users/invitations/<int:invitation>/resend/",
        views_members.invitation_resend,
        name="invitation_resend",
    ),
    path("c/<int:customer>/activity/", views_members.audit_log, name="audit_log"),
    # The mailed link carries the token in its fragment, never in a path (S11).
    path("invitations/", views_invitations.invitation_open, name="invitation_open"),
    path("invitations/accept/", views_invitations.invitation_accept, name="invitation_accept"),
]

# Main and sub-accounts (C1–C4).
sub_account_patterns = [
    path(
        "c/<int:customer>/sub-accounts/",
        views_sub_accounts.sub_account_list,
        name="sub_account_list",
    ),
    path(
        "c/<int:customer>/sub-accounts/order/",
        views_sub_accounts.sub_account_order,
        name="sub_account_order",
    ),
    path(
        "c/<int:customer>/sub-accounts/link/",
        views_sub_accounts.sub_account_link,
        name="sub_account_link",
    ),
    path(
        "c/<int:customer>/sub-accounts/<int:sub>/collective-invoice/",
        views_sub_accounts.sub_account_collective_invoice,
        name="sub_account_collective_invoice",
    ),
    path(
        "c/<int:customer>/sub-accounts/requests/<int:link_request>/confirm/",
        views_sub_accounts.link_request_confirm,
        name="link_request_confirm",
    ),
    path(
        "c/<int:customer>/sub-accounts/requests/<int:link_request>/decline/",
        views_sub_accounts.link_request_decline,
        name="link_request_decline",
    ),
    path(
        "c/<int:customer>/sub-accounts/requests/<int:link_request>/cancel/",
        views_sub_accounts.link_request_cancel,
        name="link_request_cancel",
    ),
]

# Who can act for us: the access overview, its export and the access review (issue 7).
access_patterns = [
    path("c/<int:customer>/access/", views_access.access_overview, name="access_overview"),
    path(
        "c/<int:customer>/access/export/",
        views_access.access_overview_export,
        name="access_overview_export",
    ),
    path(
        "c/<int:customer>/access/review/confirm/",
        views_access.access_review_confirm,
        name="access_review_confirm",
    ),
    path(
        "c/<int:customer>/access/review/settings/",
        views_access.access_review_settings,
        name="access_review_settings",
    ),
]

urlpatterns = (
    [
        path("login/", views.login_view, name="login"),
        path("login/code/", views.otp_verify, name="otp_verify"),
        path("logout/", views.logout_view, name="logout"),
        path("security/", views.security, name="security"),
        path("security/confirm/", views.confirm_identity, name="confirm_identity"),
        path("security/two-factor/", views.two_factor_setup, name="two_factor_setup"),
        path("security/two-factor/off/", views.two_factor_disable, name="two_factor_disable"),
        path("security/backup-codes/", views.backup_codes, name="backup_codes"),
        path(
            "security/sessions/end-others/", views.sessions_end_others, name="sessions_end_others"
        ),
        path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
        path(
            "password/reset/sent/",
            auth_views.PasswordResetDoneView.as_view(
                template_name="accounts/password_reset_done.html"
            ),
            name="password_reset_done",
        ),
        path(
            "password/reset/<uidb64>/<token>/",
            views.PasswordResetConfirmView.as_view(),
            name="password_reset_confirm",
        ),
        path(
            "password/reset/complete/",
            auth_views.PasswordResetCompleteView.as_view(
                template_name="accounts/password_reset_complete.html"
            ),
            name="password_reset_complete",
        ),
        path(
            "password/set/<uidb64>/<token>/", views.SetPasswordView.as_view(), name="set_password"
        ),
    ]
    + member_patterns
    + sub_account_patterns
    + access_patterns
    + billing_urls.urlpatterns
)
