import { createContext, useContext, useEffect } from 'react';

export const DEFAULT_INSTANCE_NAME = 'ContextBay';

/** The instance name shown in the chrome (setting `ui.instance_name`). */
export const InstanceNameContext = createContext(DEFAULT_INSTANCE_NAME);

/** Sets the tab title to "<page> · <instance name>". */
export function useDocumentTitle(title: string): void {
  const instance = useContext(InstanceNameContext);
  useEffect(() => {
    document.title = `${title} · ${instance}`;
  }, [title, instance]);
}
