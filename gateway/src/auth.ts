// Who is connecting. Until authentication lands (mTLS / OIDC in the seed),
// every client is the anonymous principal; resume tokens already bind to
// whatever this returns, so adding auth changes this file only.
export const ANONYMOUS = "anonymous";

export type HeaderGetter = (name: string) => string;

export function principalOf(_header: HeaderGetter): string {
  return ANONYMOUS;
}
