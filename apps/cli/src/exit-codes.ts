/** Exit codes of `junction`, stable for scripts. */
export const EXIT = {
  /** The gateway answered but refused the request (401, 403, 404, 409, ...). */
  REFUSED: 6,
  /** `route diff --exit-code`: the gateway differs from the files. */
  CHANGES: 7,
  DELIVER: 0,
  ROUTE_INVALID: 1,
  USAGE: 2,
  MESSAGE_FAILED: 3,
  DROPPED: 4,
  /** `audit verify`: a record was changed or removed, or an anchor does not match or verify. */
  AUDIT_BROKEN: 1,
  /** `audit verify`: the database or the anchors could not be read. */
  UNAVAILABLE: 5,
} as const;
