/** Exit codes of `junction`, stable for scripts. */
export const EXIT = {
  DELIVER: 0,
  ROUTE_INVALID: 1,
  USAGE: 2,
  MESSAGE_FAILED: 3,
  DROPPED: 4,
  /** The gateway answered but refused the request (401, 403, 404, 409, ...). */
  REFUSED: 5,
  /** The gateway could not be reached, or answered that it is unavailable (502, 503, 504). */
  UNREACHABLE: 6,
  /** `route diff --exit-code`: the server differs from the files. */
  CHANGES: 7,
} as const;
