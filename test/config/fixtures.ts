/** The smallest valid Auth config (every [pki] path relative, no [database]): for tests of loading and paths. */
export const MINIMAL_AUTH = `kind = "auth"
[listen.clients]
port = 7350
[pki]
trust_dir = "trust"
cert = "auth.crt"
key = "auth.key"
session_auth_cert = "sa.crt"
session_auth_key = "sa.key"
`;
