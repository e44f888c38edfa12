// A real OpenID Connect provider for the end-to-end tests: node `oidc-provider` with its
// development login form (any login name is accepted and becomes the account id).
//
// Listens on 127.0.0.1, port 0, and prints one JSON line {"issuer": "..."} once ready.
// Configuration from the environment:
//   OIDC_CLIENTS  JSON list of oidc-provider client metadata (client_id, client_secret,
//                 redirect_uris, post_logout_redirect_uris, ...)
//   OIDC_GROUPS   JSON object: login name → list of groups (default: none)
//   OIDC_ACCESS_TOKEN_TTL  access token lifetime in seconds (default 3600), so refresh can be
//                 tested with short-lived tokens
//
// Refresh tokens are issued to every client allowed the refresh_token grant and rotate at
// every use (a reused refresh token is refused, and revokes its grant), and the revocation
// endpoint is on, so tests can revoke a refresh token.
import http from 'node:http';
import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const groups = JSON.parse(process.env.OIDC_GROUPS || '{}');
const accessTokenTtl = Number(process.env.OIDC_ACCESS_TOKEN_TTL || 3600);

let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...c,
    })),
    pkce: { required: () => true },
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      revocation: { enabled: true },
    },
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 24 * 3600,
      Grant: 24 * 3600,
      Interaction: 3600,
      Session: 24 * 3600,
    },
    rotateRefreshToken: true,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        email: id.includes('@') ? id : `${id}@example.com`,
        email_verified: true,
        name: id,
        groups: groups[id] || [],
      }),
    }),
  });
  provider.proxy = false;
  handler = provider.callback();
  process.stdout.write(JSON.stringify({ issuer }) + '\n');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
