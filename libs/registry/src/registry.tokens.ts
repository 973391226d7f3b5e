/** Provided by the gateway: the SecretBox sealing connection secrets. */
export const SECRET_BOX = Symbol('SECRET_BOX');
/** Provided by the gateway: the RouteResources routes are compiled with (expression engine, HMAC key). */
export const ROUTE_RESOURCES = Symbol('ROUTE_RESOURCES');
/** Provided by the gateway: the EgressPolicy that connection targets are checked against when saved. */
export const EGRESS_POLICY = Symbol('EGRESS_POLICY');
