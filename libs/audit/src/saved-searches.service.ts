import { JunctionError } from '@junction/common';
import type { Principal } from '@junction/auth';
import { SavedSearchDto, SavedSearchInputDto } from './saved-searches.dto';
import { SavedSearchRow, SavedSearchesRepository } from './saved-searches.repository';

const MAX_PER_OWNER = 100;
const MAX_PARAMS = 30;

function ownerOf(p: Principal): string {
  return `${p.kind}:${p.id}`;
}

function view(r: SavedSearchRow): SavedSearchDto {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    query: r.query,
    createdAt: r.createdAt.toISOString(),
  };
}

/** The rules: a query of string parameters only, of bounded size; one name per owner. */
export class SavedSearchesService {
  constructor(private readonly repo: SavedSearchesRepository) {}

  async list(p: Principal): Promise<SavedSearchDto[]> {
    return (await this.repo.list(ownerOf(p))).map(view);
  }

  async create(p: Principal, input: SavedSearchInputDto): Promise<SavedSearchDto> {
    const entries = Object.entries(input.query);
    if (entries.length > MAX_PARAMS)
      throw new JunctionError('BAD_REQUEST', `query has at most ${MAX_PARAMS} parameters`);
    for (const [k, v] of entries)
      if (typeof v !== 'string' || v.length > 500 || k.length > 100)
        throw new JunctionError(
          'BAD_REQUEST',
          `query.${k.slice(0, 100)} must be a string of at most 500 characters`,
        );
    const row = await this.repo.create(
      ownerOf(p),
      { ...input, name: input.name.trim() },
      MAX_PER_OWNER,
    );
    if (row === 'full')
      throw new JunctionError(
        'CONFLICT',
        `at most ${MAX_PER_OWNER} saved searches each; delete one first`,
      );
    if (!row)
      throw new JunctionError('CONFLICT', `you have a saved search named '${input.name.trim()}'`);
    return view(row);
  }

  async delete(p: Principal, id: string): Promise<void> {
    if (!(await this.repo.delete(ownerOf(p), id)))
      throw new JunctionError('NOT_FOUND', `no saved search ${id}`);
  }
}
