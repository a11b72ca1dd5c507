// A client application's story, told with openapi-fetch over the types that openapi-typescript
// generates from the committed openapi.json, against a running orgd (ORGD_URL): the same story
// as ../python/story.py. tests/clients/run.sh typechecks it with tsc, then runs it with node.
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const base = process.env.ORGD_URL ?? "http://127.0.0.1:8080";
const PASSWORD = "story-password-1";

function check(ok: boolean, message: string): asserts ok {
  if (!ok) {
    console.error(`typescript client story: ${message}`);
    process.exit(1);
  }
}

/** The body of a response with the given status. */
function expect<T>(result: { data?: T; error?: unknown; response: Response }, status: number): T {
  const { data, error, response } = result;
  check(
    response.status === status && data !== undefined,
    `expected ${status}, got ${response.status}: ${JSON.stringify(error ?? data)}`,
  );
  return data;
}

/** The `after` cursor of a `Link: <…>; rel="next"` header, or undefined on the last page. */
function nextAfter(link: string | null): string | undefined {
  if (!link) return undefined;
  const [target, params] = link.split(";", 2);
  check(params?.includes('rel="next"') ?? false, `unexpected Link: ${link}`);
  const after = new URL(target!.trim().replace(/^<|>$/g, ""), base).searchParams.get("after");
  check(after !== null, `no cursor in ${link}`);
  return after;
}

const anonymous = createClient<paths>({ baseUrl: base });
const as = (token: string) =>
  createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${token}` } });

async function account(name: string) {
  const body = { email: `${name}@example.com`, password: PASSWORD, username: name };
  const signedUp = expect(await anonymous.POST("/auth/signup", { body }), 201);
  // 202 would mean that this installation wants the address verified first.
  check("access_token" in signedUp, `no session for ${name}`);
  return signedUp;
}

const alice = await account("alice");
await account("bob");
const owner = as(alice.access_token);

const org = expect(
  await owner.POST("/organizations", { body: { name: "Story Inc.", country_code: "DE" } }),
  201,
);
check(org.country_code === "DE", `country ${org.country_code}`);
const path = { org: org.slug };

// The request type keeps every field: the role travels with the account it names.
const bob = expect(
  await owner.POST("/organizations/{org}/members", {
    params: { path },
    body: { username: "bob", role: "admin" },
  }),
  201,
);
check("admin" in bob && bob.role === "admin" && bob.admin, `bob ${JSON.stringify(bob)}`);
const carol = expect(
  await owner.POST("/organizations/{org}/members", {
    params: { path },
    body: { email: "carol@example.com", name: "Carol" },
  }),
  201,
);
check("admin" in carol && carol.role === "member" && carol.name === "Carol", `carol ${JSON.stringify(carol)}`);

const seen: string[] = [];
let after: string | undefined;
for (let page = 0; page < 10; page++) {
  const result = await owner.GET("/organizations/{org}/members", {
    params: { path, query: { limit: 1, after } },
  });
  const members = expect(result, 200);
  check(members.length <= 1, `page of ${members.length}`);
  seen.push(...members.map((m) => m.username));
  after = nextAfter(result.response.headers.get("link"));
  if (after === undefined) break;
}
check(seen.join() === "alice,bob,carol", `members ${seen.join()}`);

const created = expect(
  await owner.POST("/tokens", { body: { name: "story", organization: org.slug } }),
  201,
);
check(created.token.startsWith("orgd_pat_") && created.organization_id === org.id, "token");
const me = expect(await as(created.token).GET("/users/me"), 200);
check(me.username === "alice", `me ${me.username}`);

// Without a mail server, the inviter is shown the invitation's token (development).
const sent = expect(
  await owner.POST("/organizations/{org}/invitations", {
    params: { path },
    body: { email: "dave@example.com", role: "member" },
  }),
  201,
);
check(typeof sent.token === "string" && sent.email === "dave@example.com", "invitation");
const accepted = expect(
  await anonymous.POST("/invitations/accept", {
    body: { token: sent.token!, password: PASSWORD, username: "dave", name: "Dave" },
  }),
  200,
);
check(accepted.member.username === "dave" && accepted.member.role === "member", "accepted");
check(accepted.session != null, "no session for the new account");
const orgs = expect(await as(accepted.session.access_token).GET("/organizations"), 200);
check(orgs.map((o) => o.slug).join() === org.slug, `dave's organizations ${orgs.length}`);

console.log("typescript client story: ok");
