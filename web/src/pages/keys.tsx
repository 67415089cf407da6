// A tenant's own keys (GET /keys is scoped to the master token's tenant).
import { KeysPanel } from "../keys";
import { Page } from "../ui";

export function KeysPage() {
  return (
    <Page title="My keys">
      <KeysPanel masterId={null} title="Keys" />
    </Page>
  );
}
