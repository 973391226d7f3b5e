import { InitialSchema1764160000000 } from './1764160000000-initial-schema';

/** Every migration, in order. Listed explicitly so that source (tests) and dist (npm start) agree. */
export const MIGRATIONS = [InitialSchema1764160000000];
