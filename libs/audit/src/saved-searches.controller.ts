import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Principal, RequirePermission } from '@junction/auth';
import { SavedSearchDto, SavedSearchInputDto } from './saved-searches.dto';
import { SavedSearchesService } from './saved-searches.service';

@ApiTags('audit')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/audit/searches')
@RequirePermission('audit.read')
export class SavedSearchesController {
  constructor(private readonly searches: SavedSearchesService) {}

  @Get()
  @ApiOperation({ summary: 'Your saved audit searches (each caller sees only its own), by name' })
  @ApiOkResponse({ type: SavedSearchDto, isArray: true })
  list(@CurrentPrincipal() p: Principal): Promise<SavedSearchDto[]> {
    return this.searches.list(p);
  }

  @Post()
  @ApiOperation({ summary: 'Save an audit search under a name (409 when you have that name)' })
  @ApiCreatedResponse({ type: SavedSearchDto })
  create(
    @CurrentPrincipal() p: Principal,
    @Body() body: SavedSearchInputDto,
  ): Promise<SavedSearchDto> {
    return this.searches.create(p, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete one of your saved searches' })
  @ApiNoContentResponse()
  async remove(
    @CurrentPrincipal() p: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
  ): Promise<void> {
    await this.searches.delete(p, id);
  }
}
