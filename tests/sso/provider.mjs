// The OpenID Provider of orgd's SSO tests: oidc-provider (npm) on a free loopback port, which it
// prints on its first line. Sign-in needs no form: the interaction logs in the account set
// through /_control/account and consents at once. Control endpoints (JSON POST):
//   /_control/account  {sub, email, email_verified}     who signs in next
//   /_control/tamper   {mode}                           how the next ID tokens are spoiled:
//                      null, "signature", "audience", "expired", "nonce", "alg_none", "hs256"
//   /_control/rotate   {}                               a new signing key (the old one retired)
//   /_control/mint     {sub, email, email_verified, aud, expires_in, alg_none}
//                                                       a JWT access token signed by the
//                                                       provider's key, answered as {token}
//   /_control/domain   {domain, text}                   what GET /_domain/DOMAIN serves (a
//                                                       domain's verification file)
// Usage: node provider.mjs REDIRECT_URI [CLIENT_ID CLIENT_SECRET]
import http from 'node:http';
import crypto from 'node:crypto';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const [redirectUri, clientId = 'orgd', clientSecret = 'orgd-test-secret'] = process.argv.slice(2);
let account = { sub: 'alice', email: 'alice@acme.test', email_verified: true };
let tamper = null;
const proofs = new Map();
let generation = 0;

async function signingKey() {
  generation += 1;
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: `key-${generation}`, alg: 'RS256', use: 'sig' };
}

let key = await signingKey();
let provider;
let issuer;

function build() {
  provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [key] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, email: account.email, email_verified: account.email_verified }),
    }),
    cookies: { keys: ['orgd-test-cookie-key'] },
  });
  // HTTP on loopback: no TLS in tests.
  provider.proxy = true;
  provider.use(async (ctx, next) => {
    if (ctx.path.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      const grant = new provider.Grant({ accountId: account.sub, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      await provider.interactionFinished(ctx.req, ctx.res, {
        login: { accountId: account.sub },
        consent: { grantId },
      }, { mergeWithLastSubmission: false });
      ctx.respond = false;
      return;
    }
    await next();
    if (ctx.path === '/token' && tamper && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: await spoil(ctx.body.id_token) };
    }
  });
}

async function spoil(token) {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const resign = async (changed) => new jose.SignJWT(changed)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .sign(await jose.importJWK(key, 'RS256'));
  switch (tamper) {
    case 'signature': {
      const bytes = Buffer.from(s, 'base64url');
      bytes[0] ^= 1;
      return `${h}.${p}.${bytes.toString('base64url')}`;
    }
    case 'audience': return resign({ ...claims, aud: 'someone-else' });
    case 'expired': {
      const now = Math.floor(Date.now() / 1000);
      return resign({ ...claims, iat: now - 7200, exp: now - 3600 });
    }
    case 'nonce': return resign({ ...claims, nonce: 'not-the-one-orgd-sent' });
    case 'alg_none': {
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      return `${header}.${p}.`;
    }
    case 'hs256': {
      // Algorithm confusion: signed with a secret the relying party knows (its client secret).
      const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: key.kid })).toString('base64url');
      const mac = crypto.createHmac('sha256', clientSecret).update(`${header}.${p}`).digest('base64url');
      return `${header}.${p}.${mac}`;
    }
    default: return token;
  }
}

const server = http.createServer(async (req, res) => {
  if (req.url.startsWith('/_domain/')) {
    const text = proofs.get(req.url.slice('/_domain/'.length));
    if (text === undefined) res.writeHead(404).end('no such file');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
    return;
  }
  if (req.url.startsWith('/_control/')) {
    let body = '';
    for await (const chunk of req) body += chunk;
    const input = body ? JSON.parse(body) : {};
    if (req.url === '/_control/account') account = { ...account, ...input };
    else if (req.url === '/_control/tamper') tamper = input.mode ?? null;
    else if (req.url === '/_control/domain') proofs.set(input.domain, input.text);
    else if (req.url === '/_control/mint') {
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        sub: input.sub, email: input.email, email_verified: input.email_verified ?? true,
        aud: input.aud, iss: issuer, iat: now, exp: now + (input.expires_in ?? 300),
      };
      let token = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' })
        .sign(await jose.importJWK(key, 'RS256'));
      if (input.alg_none) {
        const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
        token = `${header}.${token.split('.')[1]}.`;
      }
      const body = JSON.stringify({ token });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    else if (req.url === '/_control/rotate') {
      key = await signingKey();
      build();
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kid: key.kid }));
    return;
  }
  provider.callback()(req, res);
});

// Ends with its parent: the test process holds this process's standard input, which closes
// when it exits (however it exits).
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  build();
  console.log(port);
});
