export * from './roles';
export * from './auth.options';
export * from './auth.decorators';
export { AuthModule } from './auth.module';
export { AuthService } from './auth.service';
export { UsersService } from './users.service';
export { UserEntity } from './entities/user.entity';
export { RoleGrantEntity } from './entities/role-grant.entity';
export { ApiKeyEntity } from './entities/api-key.entity';
export { SessionEntity } from './entities/session.entity';

import { ApiKeyEntity } from './entities/api-key.entity';
import { RoleGrantEntity } from './entities/role-grant.entity';
import { SessionEntity } from './entities/session.entity';
import { UserEntity } from './entities/user.entity';

export const AUTH_ENTITIES = [UserEntity, RoleGrantEntity, ApiKeyEntity, SessionEntity];
