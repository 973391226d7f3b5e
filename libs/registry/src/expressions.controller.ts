import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@junction/auth';
import { EvaluateRequestDto, EvaluateResultDto } from './registry.dto';
import { ExpressionsService } from './expressions.service';

@ApiTags('routes')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/expressions')
export class ExpressionsController {
  constructor(private readonly expressions: ExpressionsService) {}

  @Post('evaluate')
  @HttpCode(200)
  @RequirePermission('routes.read')
  @ApiOperation({
    summary: 'Evaluate one JSONata expression as a route would (same engine, limits and guards)',
    description:
      '`$` is `input`; `$headers` and `$meta` as in a route. Answers which engine ran it (`fast`: the exact ' +
      'fast path; `jsonata`: jsonata-js), the time it took and the budget of one evaluation. A syntax error, ' +
      'an unsafe regex, a failure or a limit (time, depth, size) is answered 200 with `error` ' +
      "(`code`: JSONata's code such as S0202 or D1012 when it has one, else EXPRESSION_LIMIT or EXPRESSION_UNSAFE; " +
      '`position`: character offset). `result` is absent when the expression gives nothing. Card numbers are redacted.',
  })
  @ApiOkResponse({ type: EvaluateResultDto })
  evaluate(@Body() body: EvaluateRequestDto): Promise<EvaluateResultDto> {
    return this.expressions.evaluate(body);
  }
}
