/** Provided by the gateway: the SecretBox sealing connection secrets. */
export const SECRET_BOX = Symbol('SECRET_BOX');
/** Provided by the gateway: the RouteResources routes are compiled with (expression engine, HMAC key). */
export const ROUTE_RESOURCES = Symbol('ROUTE_RESOURCES');
/** Provided by the gateway: the EgressPolicy that connection targets are checked against when saved. */
export const EGRESS_POLICY = Symbol('EGRESS_POLICY');
/**
 * Optional, provided by the route runtime: this process's live state of a route. Without one,
 * route status reports only the stored state.
 */
export const ROUTE_RUNTIME_STATUS = Symbol('ROUTE_RUNTIME_STATUS');
