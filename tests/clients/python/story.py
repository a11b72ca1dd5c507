"""A client application's story, told with the Python client that openapi-python-client
generates from the committed openapi.json, against a running orgd (ORGD_URL): sign up, create
an organization, add an admin, page through the members, create a personal token, invite an
address and accept the invitation into a new account. Run by tests/clients/run.sh."""

import os
import sys
from urllib.parse import parse_qs, urlparse

from orgd_client import AuthenticatedClient, Client
from orgd_client.api.auth import signup
from orgd_client.api.invitations import accept_invitation, create_invitation
from orgd_client.api.members import add_member, list_members
from orgd_client.api.organizations import create_organization, list_organizations
from orgd_client.api.tokens import create_token
from orgd_client.api.users import get_current_user
from orgd_client.models import (
    AcceptedInvitation,
    AcceptInvitationRequest,
    AddMemberRequest,
    AuthResponse,
    CountryCode,
    CreatedToken,
    CreateInvitationRequest,
    CreateOrganizationRequest,
    CreateTokenRequest,
    Member,
    Organization,
    SentInvitation,
    SignupRequest,
    User,
)
from orgd_client.types import UNSET

BASE = os.environ["ORGD_URL"]
PASSWORD = "story-password-1"


def expect(response, status, kind):
    """The parsed body of a response with the given status, of the given model."""
    if response.status_code != status:
        sys.exit(f"expected {status}, got {response.status_code}: {response.content!r}")
    parsed = response.parsed
    if not isinstance(parsed, kind):
        sys.exit(f"expected a {kind}, got {parsed!r}")
    return parsed


def next_after(response):
    """The `after` cursor of the `Link: <…>; rel="next"` header, or None on the last page."""
    link = response.headers.get("link")
    if not link:
        return None
    target, _, params = link.partition(";")
    assert 'rel="next"' in params, link
    return parse_qs(urlparse(target.strip("<> ")).query)["after"][0]


def account(client, name):
    body = SignupRequest(email=f"{name}@example.com", password=PASSWORD, username=name)
    return expect(signup.sync_detailed(client=client, body=body), 201, AuthResponse)


anonymous = Client(base_url=BASE, raise_on_unexpected_status=True)
alice = account(anonymous, "alice")
account(anonymous, "bob")
owner = AuthenticatedClient(base_url=BASE, token=alice.access_token, raise_on_unexpected_status=True)

org = expect(
    create_organization.sync_detailed(
        client=owner,
        body=CreateOrganizationRequest(name="Story Inc.", country_code=CountryCode.DE),
    ),
    201,
    Organization,
)
assert org.country_code == "DE", org.country_code

# The request model keeps every field: the role travels with the account it names.
request = AddMemberRequest(username="bob", role="admin")
assert request.to_dict() == {"username": "bob", "role": "admin"}, request.to_dict()
bob = expect(add_member.sync_detailed(org.slug, client=owner, body=request), 201, Member)
assert (bob.username, bob.role, bob.admin) == ("bob", "admin", True), bob
carol = expect(
    add_member.sync_detailed(
        org.slug, client=owner, body=AddMemberRequest(email="carol@example.com", name="Carol")
    ),
    201,
    Member,
)
assert (carol.role, carol.name) == ("member", "Carol"), carol

seen, after = [], UNSET
for _ in range(10):
    response = list_members.sync_detailed(org.slug, client=owner, limit=1, after=after)
    page = expect(response, 200, list)
    assert len(page) <= 1 and all(isinstance(m, Member) for m in page), page
    seen += [m.username for m in page]
    after = next_after(response)
    if after is None:
        break
assert seen == ["alice", "bob", carol.username], seen

created = expect(
    create_token.sync_detailed(client=owner, body=CreateTokenRequest(name="story", organization=org.slug)),
    201,
    CreatedToken,
)
assert created.token.startswith("orgd_pat_") and created.organization_id == org.id, created
by_token = AuthenticatedClient(base_url=BASE, token=created.token, raise_on_unexpected_status=True)
me = expect(get_current_user.sync_detailed(client=by_token), 200, User)
assert me.username == "alice", me

# Without a mail server, the inviter is shown the invitation's token (development).
sent = expect(
    create_invitation.sync_detailed(
        org.slug, client=owner, body=CreateInvitationRequest(email="dave@example.com", role="member")
    ),
    201,
    SentInvitation,
)
assert isinstance(sent.token, str) and sent.email == "dave@example.com", sent
accepted = expect(
    accept_invitation.sync_detailed(
        client=anonymous,
        body=AcceptInvitationRequest(token=sent.token, password=PASSWORD, username="dave", name="Dave"),
    ),
    200,
    AcceptedInvitation,
)
assert (accepted.member.username, accepted.member.role) == ("dave", "member"), accepted
assert isinstance(accepted.session, AuthResponse), accepted.session
dave = AuthenticatedClient(base_url=BASE, token=accepted.session.access_token, raise_on_unexpected_status=True)
orgs = expect(list_organizations.sync_detailed(client=dave), 200, list)
assert [o.slug for o in orgs] == [org.slug], orgs

print("python client story: ok")
