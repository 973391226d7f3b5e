import { ApiProperty } from '@nestjs/swagger';
import { HoldsNoCardNumber } from '@junction/common';
import { IsIn, IsObject, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export class SavedSearchInputDto {
  @ApiProperty({ example: 'Failed refunds this week', maxLength: 100 })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @Matches(/\S/, { message: 'name must not be blank' })
  @HoldsNoCardNumber()
  name!: string;

  @ApiProperty({ enum: ['messages', 'events'], description: 'Which list it searches.' })
  @IsIn(['messages', 'events'])
  kind!: 'messages' | 'events';

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { routeId: 'refunds', outcome: 'dead-lettered' },
    description: "The list's query parameters (strings; at most 30, each up to 500 characters).",
  })
  @IsObject()
  @HoldsNoCardNumber()
  query!: Record<string, string>;
}

export class SavedSearchDto extends SavedSearchInputDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}
