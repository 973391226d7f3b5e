import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Public } from '@junction/auth';
import { JunctionError } from '@junction/common';

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(private readonly db: DataSource) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({
    schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } },
  })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'The process can serve: its database answers' })
  @ApiOkResponse({
    schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } },
  })
  async ready(): Promise<{ status: 'ok' }> {
    try {
      await this.db.query('SELECT 1');
    } catch (err) {
      throw new JunctionError('UNAVAILABLE', 'the database does not answer', undefined, {
        cause: err,
      });
    }
    return { status: 'ok' };
  }
}
