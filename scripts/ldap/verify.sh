#!/usr/bin/env bash
# Checks a RUNNING test directory (scripts/ldap.sh start) with ldap-utils only.
# Usage: scripts/ldap/verify.sh      (honours the same JUNCTION_LDAP_* env vars)
# Exits non-zero if any check fails.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1090
eval "$("$SCRIPT_DIR/../ldap.sh" env)"

H=$JUNCTION_LDAP_URL
HS=$JUNCTION_LDAPS_URL
B=$JUNCTION_LDAP_BASE_DN
SVC=$JUNCTION_LDAP_BIND_DN
SVC_PW=$JUNCTION_LDAP_BIND_PASSWORD
CA=$JUNCTION_LDAP_CA_CERT
PEOPLE="ou=people,$B"
FRANK_DN="cn=Frank (Ops)\\, Jr,$PEOPLE"

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
ko() { failed=$((failed + 1)); printf 'FAIL %s\n' "$1"; [ -z "${2:-}" ] || printf '     %s\n' "$2"; }

# expect_rc NAME RC CMD...   run CMD (output captured in $OUT), check exit code
expect_rc() {
  local name=$1 want=$2 rc=0
  shift 2
  OUT=$("$@" 2>&1) || rc=$?
  if [ "$rc" = "$want" ]; then ok "$name"; else ko "$name" "exit $rc, wanted $want: $OUT"; fi
}
# expect_out NAME REGEX   check the previous command's output
expect_out() {
  if grep -Eq -- "$2" <<<"$OUT"; then ok "$1"; else ko "$1" "no match for /$2/ in: $OUT"; fi
}
expect_no_out() {
  if grep -Eqi -- "$2" <<<"$OUT"; then ko "$1" "unexpected /$2/ in: $OUT"; else ok "$1"; fi
}

svc_search() { ldapsearch -x -H "$H" -D "$SVC" -w "$SVC_PW" -LLL "$@"; }

# --- service account: bind + search by uid returns memberOf
expect_rc "service account binds" 0 ldapwhoami -x -H "$H" -D "$SVC" -w "$SVC_PW"
expect_rc "service account searches alice" 0 svc_search -b "$PEOPLE" '(uid=alice)' uid memberOf
expect_out "alice memberOf gateway-admins" "^memberOf: cn=gateway-admins,ou=groups,$B$"
expect_out "alice memberOf gateway-viewers" "^memberOf: cn=gateway-viewers,ou=groups,$B$"
expect_rc "service account searches bob" 0 svc_search -b "$PEOPLE" '(uid=bob)' memberOf
expect_out "bob memberOf gateway-editors" "^memberOf: cn=gateway-editors,"
expect_out "bob memberOf gateway-viewers" "^memberOf: cn=gateway-viewers,"
expect_rc "service account searches carol" 0 svc_search -b "$PEOPLE" '(uid=carol)' memberOf
expect_out "carol memberOf gateway-auditors" "^memberOf: cn=gateway-auditors,"
expect_rc "service account searches dave" 0 svc_search -b "$PEOPLE" '(uid=dave)' uid memberOf
expect_out "dave found" "^uid: dave$"
expect_no_out "dave is in no group" "^memberOf:"
expect_rc "service account finds frank by escaped cn" 0 \
  svc_search -b "$PEOPLE" '(cn=Frank \28Ops\29, Jr)' uid memberOf
expect_out "frank's DN comes back with the comma as \\2C" '^dn: cn=Frank \(Ops\)\\2C Jr,ou=people,'
expect_out "frank memberOf gateway-operators" "^memberOf: cn=gateway-operators,"
expect_rc "service account reads groups" 0 svc_search -b "ou=groups,$B" '(cn=gateway-*)' cn
expect_out "five gateway groups" "cn: gateway-viewers"
if [ "$(grep -c '^cn: gateway-' <<<"$OUT")" = 5 ]; then ok "exactly five groups"; else ko "exactly five groups" "$OUT"; fi
expect_rc "service account asks for userPassword" 0 svc_search -b "$PEOPLE" '(uid=alice)' userPassword
expect_no_out "service account cannot read userPassword" "userPassword"

# --- user binds
for u in alice bob carol dave; do
  expect_rc "$u binds with the right password" 0 ldapwhoami -x -H "$H" -D "uid=$u,$PEOPLE" -w "$u-pass"
done
expect_rc "frank binds (DN with escaped comma)" 0 ldapwhoami -x -H "$H" -D "$FRANK_DN" -w frank-pass
expect_rc "alice with a wrong password fails with 49" 49 \
  ldapwhoami -x -H "$H" -D "uid=alice,$PEOPLE" -w wrong-pass
expect_rc "unknown user fails with 49" 49 ldapwhoami -x -H "$H" -D "uid=nobody,$PEOPLE" -w x
expect_rc "empty password (unauthenticated bind) is refused with 53" 53 \
  ldapwhoami -x -H "$H" -D "uid=alice,$PEOPLE" -w ''
expect_rc "alice reads her own entry" 0 ldapsearch -x -H "$H" -D "uid=alice,$PEOPLE" -w alice-pass \
  -LLL -s base -b "uid=alice,$PEOPLE" uid memberOf userPassword
expect_out "alice sees her own memberOf" "^memberOf: cn=gateway-admins,"
expect_no_out "alice cannot read her own userPassword" "userPassword"

# --- anonymous
expect_rc "anonymous reads the root DSE" 0 ldapsearch -x -H "$H" -LLL -s base -b "" namingContexts
expect_out "root DSE names the suffix" "^namingContexts: $B$"
rc=0
OUT=$(ldapsearch -x -H "$H" -LLL -b "$B" '(objectClass=*)' '*' userPassword 2>&1) || rc=$?
if [ "$rc" != 0 ]; then ok "anonymous subtree search is refused (exit $rc)"; else ko "anonymous subtree search is refused" "$OUT"; fi
expect_no_out "anonymous cannot read userPassword" "userPassword"
expect_no_out "anonymous cannot read any entry" "^dn: "

# --- TLS
export LDAPTLS_CACERT=$CA
expect_rc "ldaps (3636) with LDAPTLS_CACERT" 0 \
  ldapsearch -x -H "$HS" -D "$SVC" -w "$SVC_PW" -LLL -b "$PEOPLE" '(uid=carol)' memberOf
expect_out "ldaps search returns memberOf" "^memberOf: cn=gateway-auditors,"
expect_rc "StartTLS (-ZZ) on the ldap:// port" 0 \
  ldapwhoami -x -ZZ -H "$H" -D "uid=bob,$PEOPLE" -w bob-pass
unset LDAPTLS_CACERT
rc=0
OUT=$(LDAPTLS_REQCERT=demand ldapwhoami -x -H "$HS" -D "$SVC" -w "$SVC_PW" 2>&1) || rc=$?
if [ "$rc" != 0 ]; then ok "ldaps without our CA is rejected (exit $rc)"; else ko "ldaps without our CA is rejected" "$OUT"; fi

echo "ldap: $passed passed, $failed failed"
[ "$failed" = 0 ]
