/** Exit codes of `junction`, stable for scripts. */
export const EXIT = {
  DELIVER: 0,
  ROUTE_INVALID: 1,
  USAGE: 2,
  MESSAGE_FAILED: 3,
  DROPPED: 4,
} as const;
