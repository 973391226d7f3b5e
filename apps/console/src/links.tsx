import { Anchor, Button, type ButtonProps } from '@mantine/core';
import { createLink } from '@tanstack/react-router';
import { forwardRef, type AnchorHTMLAttributes } from 'react';

/** A button-looking link: still an <a> (a link to a screen, not an action on this one). */
const ButtonAnchor = forwardRef<
  HTMLAnchorElement,
  ButtonProps & AnchorHTMLAttributes<HTMLAnchorElement>
>(function ButtonAnchor(props, ref) {
  return <Button component="a" ref={ref} {...props} />;
});

/** Mantine's look with the router's typed links (typed paths, params and search). */
export const AnchorLink = createLink(Anchor);
export const ButtonLink = createLink(ButtonAnchor);
