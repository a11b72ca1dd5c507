//! Request bodies: decoding arbitrary bytes into every request type never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgd::routes::{
    applications, auth, invitations, members, organizations, projects, service_accounts, tokens,
    users,
};

fn decode<T: serde::de::DeserializeOwned>(data: &[u8]) {
    let _ = serde_json::from_slice::<T>(data);
}

fuzz_target!(|data: &[u8]| {
    decode::<auth::SignupRequest>(data);
    decode::<auth::LoginRequest>(data);
    decode::<auth::PasswordResetRequest>(data);
    decode::<auth::PasswordResetConfirmRequest>(data);
    decode::<users::UpdateMeRequest>(data);
    decode::<users::CreateUserRequest>(data);
    decode::<users::UpdateUserRequest>(data);
    decode::<organizations::CreateOrganizationRequest>(data);
    decode::<organizations::UpdateOrganizationRequest>(data);
    decode::<members::AddMemberRequest>(data);
    decode::<members::UpdateMemberRequest>(data);
    decode::<tokens::CreateTokenRequest>(data);
    decode::<service_accounts::CreateServiceAccountRequest>(data);
    decode::<invitations::CreateInvitationRequest>(data);
    decode::<invitations::AcceptInvitationRequest>(data);
    decode::<projects::CreateProjectRequest>(data);
    decode::<projects::UpdateProjectRequest>(data);
    decode::<applications::CreateApplicationRequest>(data);
    decode::<applications::UpdateApplicationRequest>(data);
});
