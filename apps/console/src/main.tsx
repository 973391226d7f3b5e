import '@mantine/core/styles.css';
import '@mantine/spotlight/styles.css';
import './console.css';
import { createTheme, localStorageColorSchemeManager, MantineProvider } from '@mantine/core';
import { QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { router } from './router';
import { queryClient } from './session';

// Focus rings always (keyboard users), not only on :focus-visible guesses.
const theme = createTheme({
  focusRing: 'always',
  primaryColor: 'indigo',
  // Shade 8: white text on filled buttons and links on the page keep 4.5:1 contrast (WCAG AA).
  primaryShade: { light: 8, dark: 8 },
  cursorType: 'pointer',
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider
      theme={theme}
      defaultColorScheme="auto"
      colorSchemeManager={localStorageColorSchemeManager({ key: 'junction-color-scheme' })}
    >
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
