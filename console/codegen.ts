// Types of the graph's operations, generated from the supergraph the gateway serves:
//   npm run codegen   (writes src/api/generated.ts, which is committed: builds need no codegen)
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../contracts/supergraph.graphql",
  documents: ["src/api/operations.graphql"],
  generates: {
    "src/api/generated.ts": {
      plugins: ["typescript", "typescript-operations", "typed-document-node"],
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false },
        scalars: { DateTime: "string", Date: "string", Decimal: "string", JSON: "unknown" },
        useTypeImports: true,
        onlyOperationTypes: true,
      },
    },
  },
};
export default config;
