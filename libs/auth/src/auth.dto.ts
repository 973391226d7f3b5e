import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsEmail,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';
import { HoldsNoCardNumber } from '@junction/common';
import { Permission, PERMISSIONS, ROLES, Role } from './roles';

export class LoginDto {
  @ApiProperty({ example: 'admin', maxLength: 256 })
  @IsString()
  @MaxLength(256)
  username!: string;

  @ApiProperty({ example: 'correct horse battery staple', maxLength: 1024, format: 'password' })
  @IsString()
  @MaxLength(1024)
  password!: string;

  @ApiPropertyOptional({
    enum: ['local', 'ldap'],
    default: 'local',
    description: 'Where the user is kept.',
  })
  @IsOptional()
  @IsIn(['local', 'ldap'])
  provider?: 'local' | 'ldap';
}

export class ChangePasswordDto {
  @ApiProperty({ maxLength: 1024, format: 'password', description: 'The password in use now.' })
  @IsString()
  @MaxLength(1024)
  currentPassword!: string;

  @ApiProperty({
    minLength: 12,
    maxLength: 1024,
    format: 'password',
    description:
      'At least 12 characters, not a common password, not the user name, not the current password.',
  })
  @IsString()
  @Length(12, 1024)
  newPassword!: string;
}

export class PasswordChangedDto {
  @ApiProperty({ description: "How many of the user's other sessions ended." })
  sessionsEnded!: number;
}

export class SessionsEndedDto {
  @ApiProperty({ description: "How many of the user's sessions ended (this one included)." })
  sessionsEnded!: number;
}

export class PrincipalDto {
  @ApiProperty({ enum: ['user', 'apiKey'] }) kind!: 'user' | 'apiKey';
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'admin' }) name!: string;
  @ApiProperty({ enum: ['local', 'ldap', 'oidc', 'apiKey'] }) provider!: string;
  @ApiProperty({ enum: ROLES, isArray: true }) roles!: Role[];
}

export class MeDto extends PrincipalDto {
  @ApiProperty({
    enum: PERMISSIONS,
    isArray: true,
    description: "What the caller's roles allow (the server checks exactly these).",
  })
  permissions!: Permission[];
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'When the session (or API key) expires; absent for keys that do not.',
  })
  expiresAt?: string;
}

export class ProvidersDto {
  @ApiProperty({ enum: [true] }) local!: true;
  @ApiProperty({ description: 'LDAP sign-in is configured (`provider: ldap` at login).' })
  ldap!: boolean;
  @ApiProperty({ description: 'OpenID Connect sign-in is configured (/auth/oidc/login).' })
  oidc!: boolean;
}

export class LoginResponseDto {
  @ApiProperty({ description: 'Send as `Authorization: Bearer <token>`.' }) token!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ type: PrincipalDto }) user!: PrincipalDto;
}

export class UserDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ['local', 'ldap', 'oidc'] }) provider!: string;
  @ApiProperty({ nullable: true, type: String }) displayName!: string | null;
  @ApiProperty({ nullable: true, type: String }) email!: string | null;
  @ApiProperty({ enum: ROLES, isArray: true }) roles!: Role[];
  @ApiProperty() disabled!: boolean;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description:
      'The API key this user came from: the key that made it, or the one the user who made it came from. Revoking that key with `cascade=true` ends it.',
  })
  createdByKeyId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) lastLoginAt!: string | null;
}

export class CreateUserDto {
  @ApiProperty({ example: 'jane', minLength: 1, maxLength: 256 })
  @IsString()
  @Length(1, 256)
  @HoldsNoCardNumber()
  username!: string;

  @ApiProperty({ minLength: 12, maxLength: 1024, format: 'password' })
  @IsString()
  @Length(12, 1024)
  password!: string;

  @ApiProperty({ enum: ROLES, isArray: true, example: ['editor'] })
  @IsArray()
  @ArrayUnique()
  @IsIn(ROLES, { each: true })
  roles!: Role[];

  @ApiPropertyOptional({ maxLength: 256 })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  @HoldsNoCardNumber()
  displayName?: string;

  @ApiPropertyOptional({ format: 'email' })
  @IsOptional()
  @IsEmail()
  @HoldsNoCardNumber()
  email?: string;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ minLength: 12, maxLength: 1024, format: 'password' })
  @IsOptional()
  @IsString()
  @Length(12, 1024)
  password?: string;

  @ApiPropertyOptional({ enum: ROLES, isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @IsIn(ROLES, { each: true })
  roles?: Role[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;

  @ApiPropertyOptional({ maxLength: 256 })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  @HoldsNoCardNumber()
  displayName?: string;

  @ApiPropertyOptional({ format: 'email' })
  @IsOptional()
  @IsEmail()
  @HoldsNoCardNumber()
  email?: string;
}

export class CreateApiKeyDto {
  @ApiProperty({ example: 'erp-integration', minLength: 1, maxLength: 128 })
  @IsString()
  @Length(1, 128)
  @HoldsNoCardNumber()
  name!: string;

  @ApiProperty({
    enum: ROLES,
    isArray: true,
    example: ['ingest'],
    description:
      "What the key may do. Posting to an ingest path (`auth: apiKey`) needs 'ingest' (or 'admin'); every other key is refused there with 403.",
  })
  @IsArray()
  @ArrayUnique()
  @IsIn(ROLES, { each: true })
  roles!: Role[];

  @ApiPropertyOptional({
    type: String,
    isArray: true,
    example: ['orders-eu'],
    description:
      'With the ingest role: the ids of the only routes this key may post to (others answer 403). Absent: every route with `auth: apiKey`.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, {
    each: true,
    message: 'each ingestRoutes entry must be a route id',
  })
  // Shown back with the key (GET /api-keys, the console); no route id holds one anyway.
  @HoldsNoCardNumber()
  ingestRoutes?: string[];

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601()
  expiresAt?: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The public part of the key (jk_<prefix>_...).' }) prefix!: string;
  @ApiProperty({ enum: ROLES, isArray: true }) roles!: Role[];
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description:
      'The user the key acts for: refused once that user is disabled or deleted, and never with roles that user no longer holds.',
  })
  ownerId!: string | null;
  @ApiProperty({
    type: String,
    isArray: true,
    nullable: true,
    description: 'The only routes the key may post to; null: any.',
  })
  ingestRoutes!: string[] | null;
  @ApiProperty() createdBy!: string;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description:
      'The API key this key came from: the key that made it, or the one the user who made it came from. Revoking that key with `cascade=true` ends it.',
  })
  createdByKeyId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expiresAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) lastUsedAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revokedAt!: string | null;
}

export class RevokedThroughDto {
  @ApiProperty({
    type: String,
    isArray: true,
    description:
      'The keys this call revoked: the one named (if it was live) and every live key made through it.',
  })
  revokedKeys!: string[];
  @ApiProperty({
    type: String,
    isArray: true,
    description:
      'The users this call disabled (their sessions and keys ended): those made through the key.',
  })
  disabledUsers!: string[];
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The key. Shown in this answer only: store it now.' }) key!: string;
}

export class SessionDto {
  @ApiProperty({ format: 'uuid', description: "The session's id (its token's `sid`)." })
  id!: string;
  @ApiProperty({ format: 'uuid' }) userId!: string;
  @ApiProperty({ example: 'alice' }) username!: string;
  @ApiProperty({ enum: ['local', 'ldap', 'oidc'] }) provider!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ nullable: true, type: String, description: 'Address the sign-in came from.' })
  ip!: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent!: string | null;
  @ApiProperty({ description: "The caller's own session." }) current!: boolean;
}
