import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
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
import { ConnectionsService } from './connections.service';
import {
  ConnectionDto,
  ConnectionImpactDto,
  ConnectionInputDto,
  CreateConnectionDto,
} from './registry.dto';
import { RoutesService } from './routes.service';

@ApiTags('connections')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/connections')
export class ConnectionsController {
  constructor(
    private readonly connections: ConnectionsService,
    private readonly routes: RoutesService,
  ) {}

  @Get(':name/impact')
  @RequirePermission('connections.read')
  @ApiOperation({
    summary: 'The routes a change of this connection would restart',
    description:
      'Routes (not deleted) whose active version names the connection (source, destinations or dead letters), ' +
      'with whether each is running (as this gateway process runs it).',
  })
  @ApiOkResponse({ type: ConnectionImpactDto })
  impact(@Param('name') name: string): Promise<ConnectionImpactDto> {
    return this.routes.connectionImpact(name);
  }

  @Get()
  @RequirePermission('connections.read')
  @ApiOperation({ summary: 'List connections (secrets: only which are set)' })
  @ApiOkResponse({ type: ConnectionDto, isArray: true })
  list(): Promise<ConnectionDto[]> {
    return this.connections.list();
  }

  @Post()
  @RequirePermission('connections.write')
  @ApiOperation({ summary: 'Create a connection; secrets are stored encrypted and never returned' })
  @ApiCreatedResponse({ type: ConnectionDto })
  create(
    @Body() body: CreateConnectionDto,
    @CurrentPrincipal() actor: Principal,
  ): Promise<ConnectionDto> {
    const { name, ...input } = body;
    return this.connections.create(name, input, actor.name);
  }

  @Get(':name')
  @RequirePermission('connections.read')
  @ApiOperation({ summary: 'One connection' })
  @ApiOkResponse({ type: ConnectionDto })
  get(@Param('name') name: string): Promise<ConnectionDto> {
    return this.connections.get(name);
  }

  @Put(':name')
  @RequirePermission('connections.write')
  @ApiOperation({
    summary: 'Replace the config; secrets given are set, null ones removed, absent ones kept',
  })
  @ApiOkResponse({ type: ConnectionDto })
  update(
    @Param('name') name: string,
    @Body() body: ConnectionInputDto,
    @CurrentPrincipal() actor: Principal,
  ): Promise<ConnectionDto> {
    return this.connections.update(name, body, actor.name);
  }

  @Delete(':name')
  @HttpCode(204)
  @RequirePermission('connections.write')
  @ApiOperation({ summary: 'Delete a connection no route uses' })
  @ApiNoContentResponse()
  async remove(@Param('name') name: string): Promise<void> {
    await this.connections.delete(name);
  }
}
