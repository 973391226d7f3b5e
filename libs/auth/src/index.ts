export * from './roles';
export * from './auth.options';
export * from './auth.decorators';
export { AuthModule } from './auth.module';
export { AuthService } from './auth.service';
export { UsersService } from './users.service';
export { ApiKeysService } from './api-keys.service';
export { LdapSignInService } from './ldap-sign-in.service';
export { OidcSignInService } from './oidc-sign-in.service';
export { PROVIDER_CHECK_MS } from './provider-check';
export type { ApiKeyView } from './api-keys.service';
export { RoleMapping } from './role-mapping';
export { normalizeDn, sameDn, DnSyntaxError } from './ldap/dn';
export { checkFilterTemplate, escapeFilterValue } from './ldap/ldap-filter';
export { LdapDirectory, LdapUnavailableError, type LdapSettings } from './ldap/ldap-directory';
export type { OidcSettings } from './oidc/oidc-relying-party';
export { isLoopbackUrl } from './loopback';
export { UserEntity } from './entities/user.entity';
export { RoleGrantEntity } from './entities/role-grant.entity';
export { ApiKeyEntity } from './entities/api-key.entity';
export { SessionEntity } from './entities/session.entity';

import { ApiKeyEntity } from './entities/api-key.entity';
import { RoleGrantEntity } from './entities/role-grant.entity';
import { SessionEntity } from './entities/session.entity';
import { UserEntity } from './entities/user.entity';

export const AUTH_ENTITIES = [UserEntity, RoleGrantEntity, ApiKeyEntity, SessionEntity];
