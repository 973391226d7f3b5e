import { Anchor, Button } from '@mantine/core';
import { createLink } from '@tanstack/react-router';

/** Mantine's look with the router's typed links (typed paths, params and search). */
export const AnchorLink = createLink(Anchor);
export const ButtonLink = createLink(Button);
