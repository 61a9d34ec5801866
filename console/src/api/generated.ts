import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** Date (isoformat) */
  Date: { input: string; output: string; }
  /** Date with time (isoformat) */
  DateTime: { input: string; output: string; }
  /** Decimal (fixed-point) */
  Decimal: { input: string; output: string; }
  /** The `JSON` scalar type represents JSON values as specified by [ECMA-404](https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf). */
  JSON: { input: unknown; output: unknown; }
  join__DirectiveArguments: { input: any; output: any; }
  join__FieldSet: { input: any; output: any; }
  join__FieldValue: { input: any; output: any; }
  link__Import: { input: any; output: any; }
};

export type AddressInput = {
  city?: InputMaybe<Scalars['String']['input']>;
  country?: InputMaybe<Scalars['String']['input']>;
  postalCode?: InputMaybe<Scalars['String']['input']>;
  region?: InputMaybe<Scalars['String']['input']>;
  street?: InputMaybe<Scalars['String']['input']>;
};

export type BoardFilter = {
  /** true: only open deals unchanged for longer than their stage's rotting days. */
  idle?: InputMaybe<Scalars['Boolean']['input']>;
  ownerId?: InputMaybe<Scalars['ID']['input']>;
};

/** How a funnel counts deals. */
export type ConversionMethod =
  /** The deals created in [from, to), followed to wherever they got: each deal counts once per OPEN stage, however often it re-entered it. */
  | 'COHORT'
  /** The stage exits in [from, to): per OPEN stage, entered = transitions in the window that ended a stay in it or passed it, advanced = those that went forward. A deal that re-enters a stage counts again each time it leaves it. */
  | 'SNAPSHOT';

export type CreateCustomerInput = {
  address?: InputMaybe<AddressInput>;
  /** A JSON object of at most 16 KiB, nested at most 5 levels. */
  attributes?: InputMaybe<Scalars['JSON']['input']>;
  companyId?: InputMaybe<Scalars['ID']['input']>;
  email?: InputMaybe<Scalars['String']['input']>;
  /** More e-mails. */
  emails?: InputMaybe<Array<Scalars['String']['input']>>;
  /** The id in another system (imports upsert by it). */
  externalId?: InputMaybe<Scalars['String']['input']>;
  kind: CustomerKind;
  lifecycle?: LifecycleStage;
  name: Scalars['String']['input'];
  /** Defaults to the caller. */
  ownerId?: InputMaybe<Scalars['ID']['input']>;
  phone?: InputMaybe<Scalars['String']['input']>;
  /** More phones. */
  phones?: InputMaybe<Array<Scalars['String']['input']>>;
  source?: InputMaybe<LeadSourceInput>;
  tags?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Defaults to the caller's team; only an admin names another. */
  team?: InputMaybe<Scalars['String']['input']>;
};

export type CreateOpportunityInput = {
  amount: MoneyInput;
  customerId: Scalars['ID']['input'];
  expectedCloseDate?: InputMaybe<Scalars['Date']['input']>;
  nextStep?: InputMaybe<Scalars['String']['input']>;
  /** Default: the caller. */
  ownerId?: InputMaybe<Scalars['ID']['input']>;
  /** Default: the default pipeline. */
  pipelineId?: InputMaybe<Scalars['ID']['input']>;
  priority?: Priority;
  /** Default: the pipeline's first stage. */
  stageId?: InputMaybe<Scalars['ID']['input']>;
  /** Admins only: the team; otherwise the caller's team. */
  team?: InputMaybe<Scalars['String']['input']>;
  title: Scalars['String']['input'];
};

export type CreatePipelineInput = {
  name: Scalars['String']['input'];
  stages: Array<StageInput>;
};

export type CustomerFilter = {
  companyId?: InputMaybe<Scalars['ID']['input']>;
  /** Inclusive. */
  createdFrom?: InputMaybe<Scalars['DateTime']['input']>;
  /** Exclusive. */
  createdTo?: InputMaybe<Scalars['DateTime']['input']>;
  /** Any fragment of an e-mail; case and accents are ignored. Indexed (trigrams); under 3 characters, the start of the address, its local part, domain or a label. */
  emailContains?: InputMaybe<Scalars['String']['input']>;
  kind?: InputMaybe<CustomerKind>;
  /** Any of these stages. */
  lifecycle?: InputMaybe<Array<LifecycleStage>>;
  /** Any fragment of the name: 'uller', 'ÜLL', 'garcia rob'; case and accents are ignored. Indexed (trigrams); under 3 characters, the start of a word. */
  nameContains?: InputMaybe<Scalars['String']['input']>;
  ownerId?: InputMaybe<Scalars['ID']['input']>;
  /** Digits found anywhere in a phone's E.164 digits (other characters are ignored). Indexed (trigrams); under 3 digits, the start of the digits. */
  phoneContains?: InputMaybe<Scalars['String']['input']>;
  /** Words, each the start of a word of the name, an e-mail (or its local part or domain) or a phone (international or national digits), in any order; indexed. */
  search?: InputMaybe<Scalars['String']['input']>;
  sourceCampaign?: InputMaybe<Scalars['String']['input']>;
  sourceChannel?: InputMaybe<Scalars['String']['input']>;
  /** Case-insensitive. */
  tag?: InputMaybe<Scalars['String']['input']>;
};

export type CustomerKind =
  | 'COMPANY'
  | 'PERSON';

export type CustomerSort = {
  direction?: SortDirection;
  field?: CustomerSortField;
};

export type CustomerSortField =
  | 'CREATED_AT'
  | 'ID'
  | 'NAME'
  | 'UPDATED_AT';

/** How a forecast is computed. */
export type ForecastMethod =
  /** As WEIGHTED, with the stage's empirical win rate: of the closed deals that were ever in the stage, the share won (the configured probability without history). */
  | 'HISTORICAL'
  /** An absorbing Markov chain (daily steps; states: the OPEN stages, WON, LOST) estimated with exposure: P(i→j per day) = transitions i→j / deal-days spent in i, where the days count every stay in i up to now, including the ongoing stays of the deals still there (censored), so slow deals still sitting in a stage lower its exit rate; P(i→i) = 1 - the row's exits (a stage nobody left keeps its deals). Every open deal counts with its probability of being won within the period. */
  | 'MARKOV'
  /** Amount x the configured probability of the deal's stage, for the open deals expected to close in the period (a deal without an expected close date counts as closing in it). */
  | 'WEIGHTED';

export type InteractionInput = {
  details?: InputMaybe<Scalars['JSON']['input']>;
  kind: InteractionKind;
  /** Default: now. */
  occurredAt?: InputMaybe<Scalars['DateTime']['input']>;
  summary: Scalars['String']['input'];
};

export type InteractionKind =
  | 'CALL'
  | 'EMAIL'
  | 'LIFECYCLE_CHANGE'
  | 'MATERIAL_VIEWED'
  | 'MEETING'
  | 'NOTE'
  | 'PURCHASE'
  | 'QUOTE'
  | 'SERVICE_TICKET'
  | 'STAGE_CHANGE';

export type LeadSourceInput = {
  campaign?: InputMaybe<Scalars['String']['input']>;
  channel?: InputMaybe<Scalars['String']['input']>;
  medium?: InputMaybe<Scalars['String']['input']>;
  referrer?: InputMaybe<Scalars['String']['input']>;
};

export type LifecycleStage =
  | 'CHURNED'
  | 'CUSTOMER'
  | 'LEAD'
  | 'PROSPECT';

export type MoneyInput = {
  amount: Scalars['Decimal']['input'];
  /** ISO 4217 code, e.g. EUR. */
  currency: Scalars['String']['input'];
};

export type OpportunityFilter = {
  customerId?: InputMaybe<Scalars['ID']['input']>;
  /** true: only idle (rotting) open deals. */
  idle?: InputMaybe<Scalars['Boolean']['input']>;
  ownerId?: InputMaybe<Scalars['ID']['input']>;
  pipelineId?: InputMaybe<Scalars['ID']['input']>;
  stageId?: InputMaybe<Scalars['ID']['input']>;
  status?: InputMaybe<OpportunityStatus>;
};

export type OpportunityStatus =
  | 'LOST'
  | 'OPEN'
  | 'WON';

export type Priority =
  | 'HIGH'
  | 'LOW'
  | 'MEDIUM';

export type SortDirection =
  | 'ASC'
  | 'DESC';

export type StageInput = {
  kind: StageKind;
  name: Scalars['String']['input'];
  probability: Scalars['Float']['input'];
  rottingDays?: InputMaybe<Scalars['Int']['input']>;
};

export type StageKind =
  | 'LOST'
  | 'OPEN'
  | 'WON';

/** Only the fields given change; null clears an optional field. */
export type UpdateCustomerInput = {
  address?: InputMaybe<AddressInput>;
  attributes?: InputMaybe<Scalars['JSON']['input']>;
  companyId?: InputMaybe<Scalars['ID']['input']>;
  /** The primary e-mail (the old one stays listed). */
  email?: InputMaybe<Scalars['String']['input']>;
  /** Every e-mail (replaces the list). */
  emails?: InputMaybe<Array<Scalars['String']['input']>>;
  externalId?: InputMaybe<Scalars['String']['input']>;
  /** LEAD→PROSPECT|CUSTOMER, PROSPECT→LEAD|CUSTOMER, CUSTOMER→CHURNED, CHURNED→PROSPECT|CUSTOMER. */
  lifecycle?: InputMaybe<LifecycleStage>;
  /** Why the lifecycle changes (required to CHURNED). */
  lifecycleReason?: InputMaybe<Scalars['String']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
  ownerId?: InputMaybe<Scalars['ID']['input']>;
  phone?: InputMaybe<Scalars['String']['input']>;
  phones?: InputMaybe<Array<Scalars['String']['input']>>;
  source?: InputMaybe<LeadSourceInput>;
  tags?: InputMaybe<Array<Scalars['String']['input']>>;
  team?: InputMaybe<Scalars['String']['input']>;
};

/** Only the fields given change; null clears an optional field. */
export type UpdateOpportunityInput = {
  amount?: InputMaybe<MoneyInput>;
  expectedCloseDate?: InputMaybe<Scalars['Date']['input']>;
  nextStep?: InputMaybe<Scalars['String']['input']>;
  ownerId?: InputMaybe<Scalars['ID']['input']>;
  priority?: InputMaybe<Priority>;
  team?: InputMaybe<Scalars['String']['input']>;
  title?: InputMaybe<Scalars['String']['input']>;
};

/** Only the fields given change; rottingDays null removes it. */
export type UpdateStageInput = {
  name?: InputMaybe<Scalars['String']['input']>;
  probability?: InputMaybe<Scalars['Float']['input']>;
  rottingDays?: InputMaybe<Scalars['Int']['input']>;
};

export type Join__ContextArgument = {
  context: Scalars['String']['input'];
  name: Scalars['String']['input'];
  selection: Scalars['join__FieldValue']['input'];
  type: Scalars['String']['input'];
};

export type Join__Graph =
  | 'ANALYTICS'
  | 'CUSTOMERS'
  | 'PIPELINE';

export type Link__Purpose =
  /** `EXECUTION` features provide metadata necessary for operation execution. */
  | 'EXECUTION'
  /** `SECURITY` features provide metadata necessary to securely resolve fields. */
  | 'SECURITY';

export type MoneyPartsFragment = { __typename?: 'Money', amount: string, currency: string };

export type StagePartsFragment = { __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean };

export type CardPartsFragment = { __typename?: 'Opportunity', id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> };

export type ColumnPartsFragment = { __typename?: 'BoardColumn', count: number, stage: { __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean }, totalAmount: Array<{ __typename?: 'Money', amount: string, currency: string }>, weightedAmount: Array<{ __typename?: 'Money', amount: string, currency: string }>, opportunities: { __typename?: 'OpportunityConnection', totalCount: number, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null }, edges: Array<{ __typename?: 'OpportunityEdge', node: { __typename?: 'Opportunity', id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> } }> } };

export type PipelinesQueryVariables = Exact<{ [key: string]: never; }>;


export type PipelinesQuery = { __typename?: 'Query', pipelines: Array<{ __typename?: 'Pipeline', id: string, name: string, version: number, stages: Array<{ __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean }> }> | null };

export type BoardQueryVariables = Exact<{
  pipelineId: Scalars['ID']['input'];
  filter?: InputMaybe<BoardFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type BoardQuery = { __typename?: 'Query', board: { __typename?: 'Board', pipeline: { __typename?: 'Pipeline', id: string, name: string, version: number }, columns: Array<{ __typename?: 'BoardColumn', count: number, stage: { __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean }, totalAmount: Array<{ __typename?: 'Money', amount: string, currency: string }>, weightedAmount: Array<{ __typename?: 'Money', amount: string, currency: string }>, opportunities: { __typename?: 'OpportunityConnection', totalCount: number, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null }, edges: Array<{ __typename?: 'OpportunityEdge', node: { __typename?: 'Opportunity', id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> } }> } }> } | null };

export type MoveOpportunityMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  stageId: Scalars['ID']['input'];
  beforeId?: InputMaybe<Scalars['ID']['input']>;
  afterId?: InputMaybe<Scalars['ID']['input']>;
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
}>;


export type MoveOpportunityMutation = { __typename?: 'Mutation', moveOpportunity: { __typename?: 'Opportunity', id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> } };

export type WinOpportunityMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
}>;


export type WinOpportunityMutation = { __typename?: 'Mutation', winOpportunity: { __typename?: 'Opportunity', id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> } };

export type LoseOpportunityMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  reason: Scalars['String']['input'];
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
}>;


export type LoseOpportunityMutation = { __typename?: 'Mutation', loseOpportunity: { __typename?: 'Opportunity', id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> } };

export type ReopenOpportunityMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  stageId: Scalars['ID']['input'];
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
}>;


export type ReopenOpportunityMutation = { __typename?: 'Mutation', reopenOpportunity: { __typename?: 'Opportunity', id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> } };

export type UpdateOpportunityMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  input: UpdateOpportunityInput;
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
}>;


export type UpdateOpportunityMutation = { __typename?: 'Mutation', updateOpportunity: { __typename?: 'Opportunity', nextStep: string | null, id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> } };

export type OpportunityQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type OpportunityQuery = { __typename?: 'Query', opportunity: { __typename?: 'Opportunity', nextStep: string | null, priority: Priority, createdAt: string, closedAt: string | null, id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, pipeline: { __typename?: 'Pipeline', id: string, name: string, stages: Array<{ __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean }> }, stage: { __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean }, stageHistory: Array<{ __typename?: 'StageTransition', fromStageId: string | null, toStageId: string, at: string, actorId: string | null, ownerId: string, amount: { __typename?: 'Money', amount: string, currency: string }, fromStage: { __typename?: 'Stage', name: string } | null, toStage: { __typename?: 'Stage', name: string } | null }>, amount: { __typename?: 'Money', amount: string, currency: string }, customer: { __typename?: 'Customer', id: string, name: string } | null } | null };

export type StageChangesSubscriptionVariables = Exact<{
  pipelineId?: InputMaybe<Scalars['ID']['input']>;
}>;


export type StageChangesSubscription = { __typename?: 'Subscription', stageChanges: { __typename?: 'StageChangeEvent', eventId: string, type: string, opportunityId: string, pipelineId: string, ownerId: string | null, title: string | null, status: string | null, fromStageId: string | null, toStageId: string, toStageName: string, changedAt: string, sequence: number, amount: { __typename?: 'Money', amount: string, currency: string } | null } };

export type CustomerRowFragment = { __typename?: 'Customer', id: string, kind: CustomerKind, name: string, email: string | null, phone: string | null, lifecycle: LifecycleStage, ownerId: string, tags: Array<string>, createdAt: string, updatedAt: string, company: { __typename?: 'Customer', id: string, name: string } | null };

export type CustomersQueryVariables = Exact<{
  filter?: InputMaybe<CustomerFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
  sort?: InputMaybe<CustomerSort>;
}>;


export type CustomersQuery = { __typename?: 'Query', customers: { __typename?: 'CustomerConnection', totalCount: number, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null }, edges: Array<{ __typename?: 'CustomerEdge', cursor: string, node: { __typename?: 'Customer', id: string, kind: CustomerKind, name: string, email: string | null, phone: string | null, lifecycle: LifecycleStage, ownerId: string, tags: Array<string>, createdAt: string, updatedAt: string, company: { __typename?: 'Customer', id: string, name: string } | null } }> } | null };

export type CreateCustomerMutationVariables = Exact<{
  input: CreateCustomerInput;
}>;


export type CreateCustomerMutation = { __typename?: 'Mutation', createCustomer: { __typename?: 'Customer', id: string, kind: CustomerKind, name: string, email: string | null, phone: string | null, lifecycle: LifecycleStage, ownerId: string, tags: Array<string>, createdAt: string, updatedAt: string, company: { __typename?: 'Customer', id: string, name: string } | null } };

export type Customer360QueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type Customer360Query = { __typename?: 'Query', customer: { __typename?: 'Customer', emails: Array<string>, phones: Array<string>, externalId: string | null, team: string | null, version: number, mergedIds: Array<string>, lifecycleReason: string | null, lifecycleChangedAt: string | null, attributes: unknown | null, id: string, kind: CustomerKind, name: string, email: string | null, phone: string | null, lifecycle: LifecycleStage, ownerId: string, tags: Array<string>, createdAt: string, updatedAt: string, address: { __typename?: 'Address', street: string | null, city: string | null, postalCode: string | null, region: string | null, country: string | null } | null, source: { __typename?: 'LeadSource', channel: string | null, campaign: string | null, medium: string | null, referrer: string | null } | null, contacts: Array<{ __typename?: 'Customer', id: string, name: string, email: string | null, lifecycle: LifecycleStage }>, openPipelineValue: Array<{ __typename?: 'Money', amount: string, currency: string }> | null, opportunities: Array<{ __typename?: 'Opportunity', id: string, title: string, status: OpportunityStatus, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string, name: string, kind: StageKind } }> | null, audit: { __typename?: 'AuditConnection', edges: Array<{ __typename?: 'AuditEdge', node: { __typename?: 'AuditEntry', version: number, action: string, at: string, actorId: string | null, actorName: string | null, note: string | null, changes: Array<{ __typename?: 'FieldChange', field: string, from: unknown | null, to: unknown | null }> } }> }, company: { __typename?: 'Customer', id: string, name: string } | null } | null, duplicateCandidates: Array<{ __typename?: 'Customer', id: string, name: string, email: string | null, phone: string | null }> | null };

export type LogInteractionMutationVariables = Exact<{
  customerId: Scalars['ID']['input'];
  input: InteractionInput;
}>;


export type LogInteractionMutation = { __typename?: 'Mutation', logInteraction: { __typename?: 'Interaction', id: string, kind: InteractionKind, summary: string, occurredAt: string } };

export type MergeCustomersMutationVariables = Exact<{
  targetId: Scalars['ID']['input'];
  sourceIds: Array<Scalars['ID']['input']> | Scalars['ID']['input'];
  dryRun?: InputMaybe<Scalars['Boolean']['input']>;
}>;


export type MergeCustomersMutation = { __typename?: 'Mutation', mergeCustomers: { __typename?: 'MergeResult', dryRun: boolean, mergedIds: Array<string>, movedInteractions: number, movedContacts: number, changes: Array<{ __typename?: 'FieldChange', field: string, from: unknown | null, to: unknown | null }>, survivor: { __typename?: 'Customer', id: string, name: string, email: string | null, phones: Array<string>, emails: Array<string>, tags: Array<string> } } };

export type ImportCustomersMutationVariables = Exact<{
  csv: Scalars['String']['input'];
  dryRun?: InputMaybe<Scalars['Boolean']['input']>;
}>;


export type ImportCustomersMutation = { __typename?: 'Mutation', importCustomers: { __typename?: 'ImportReport', dryRun: boolean, rows: number, created: number, updated: number, unchanged: number, failed: number, ignoredColumns: Array<string>, errors: Array<{ __typename?: 'ImportRowError', line: number, field: string | null, message: string }> } };

export type FunnelQueryVariables = Exact<{
  pipelineId: Scalars['ID']['input'];
  method?: InputMaybe<ConversionMethod>;
  ownerId?: InputMaybe<Scalars['ID']['input']>;
}>;


export type FunnelQuery = { __typename?: 'Query', funnel: { __typename?: 'FunnelReport', method: ConversionMethod, won: number, lost: number, steps: Array<{ __typename?: 'FunnelStep', stageId: string, stageName: string, entered: number, advanced: number, conversionRate: number, cumulativeRate: number }> } | null };

export type ReportsQueryVariables = Exact<{
  pipelineId: Scalars['ID']['input'];
  ownerId?: InputMaybe<Scalars['ID']['input']>;
  periodStart: Scalars['Date']['input'];
  periodEnd: Scalars['Date']['input'];
  method?: InputMaybe<ForecastMethod>;
  at: Scalars['DateTime']['input'];
}>;


export type ReportsQuery = { __typename?: 'Query', stageDurations: Array<{ __typename?: 'StageDuration', stageId: string, stageName: string, deals: number, meanDays: number, medianDays: number, p90Days: number, currentDeals: number, idleDeals: number, bottleneck: boolean }> | null, salesPerformance: { __typename?: 'SalesPerformance', openDeals: number, won: number, lost: number, winRate: number, avgCycleDays: number, medianCycleDays: number, wonAmount: Array<{ __typename?: 'Money', amount: string, currency: string }>, avgWonAmount: Array<{ __typename?: 'Money', amount: string, currency: string }>, velocity: Array<{ __typename?: 'Money', amount: string, currency: string }>, winRateByValue: Array<{ __typename?: 'CurrencyRate', currency: string, rate: number }>, owners: Array<{ __typename?: 'SalesPerformance', ownerId: string | null, won: number, lost: number, winRate: number, avgCycleDays: number }> } | null, forecast: { __typename?: 'Forecast', method: ForecastMethod, deals: number, expected: Array<{ __typename?: 'Money', amount: string, currency: string }>, low: Array<{ __typename?: 'Money', amount: string, currency: string }>, high: Array<{ __typename?: 'Money', amount: string, currency: string }> } | null, pipelineAsOf: Array<{ __typename?: 'StageSnapshot', stageId: string, stageName: string, kind: string, count: number, amount: Array<{ __typename?: 'Money', amount: string, currency: string }>, weightedAmount: Array<{ __typename?: 'Money', amount: string, currency: string }> }> | null };

export type BacktestQueryVariables = Exact<{
  pipelineId: Scalars['ID']['input'];
  periods: Scalars['Int']['input'];
  periodDays: Scalars['Int']['input'];
}>;


export type BacktestQuery = { __typename?: 'Query', forecastBacktest: Array<{ __typename?: 'ForecastAccuracy', method: ForecastMethod, mape: number | null, periods: Array<{ __typename?: 'BacktestPeriod', periodStart: string, periodEnd: string, error: number | null, expected: Array<{ __typename?: 'Money', amount: string, currency: string }>, actual: Array<{ __typename?: 'Money', amount: string, currency: string }> }> }> | null };

export type UpdateStageMutationVariables = Exact<{
  pipelineId: Scalars['ID']['input'];
  stageId: Scalars['ID']['input'];
  input: UpdateStageInput;
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
}>;


export type UpdateStageMutation = { __typename?: 'Mutation', updateStage: { __typename?: 'Pipeline', id: string, version: number, stages: Array<{ __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean }> } };

export type ReorderStagesMutationVariables = Exact<{
  pipelineId: Scalars['ID']['input'];
  stageIds: Array<Scalars['ID']['input']> | Scalars['ID']['input'];
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
}>;


export type ReorderStagesMutation = { __typename?: 'Mutation', reorderStages: { __typename?: 'Pipeline', id: string, version: number, stages: Array<{ __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean }> } };

export type AddStageMutationVariables = Exact<{
  pipelineId: Scalars['ID']['input'];
  input: StageInput;
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
}>;


export type AddStageMutation = { __typename?: 'Mutation', addStage: { __typename?: 'Pipeline', id: string, version: number, stages: Array<{ __typename?: 'Stage', id: string, name: string, order: number, probability: number, kind: StageKind, rottingDays: number | null, retired: boolean }> } };

export type TimelineQueryVariables = Exact<{
  id: Scalars['ID']['input'];
  kinds?: InputMaybe<Array<InteractionKind> | InteractionKind>;
  first?: InputMaybe<Scalars['Int']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type TimelineQuery = { __typename?: 'Query', customer: { __typename?: 'Customer', id: string, timeline: { __typename?: 'InteractionConnection', totalCount: number, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null }, edges: Array<{ __typename?: 'InteractionEdge', node: { __typename?: 'Interaction', id: string, kind: InteractionKind, occurredAt: string, summary: string, actorName: string | null, actorId: string | null, opportunityId: string | null, details: unknown | null } }> } } | null };

export type OpportunityCardQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type OpportunityCardQuery = { __typename?: 'Query', opportunity: { __typename?: 'Opportunity', id: string, title: string, ownerId: string, status: OpportunityStatus, position: string, version: number, idle: boolean, lostReason: string | null, expectedCloseDate: string | null, amount: { __typename?: 'Money', amount: string, currency: string }, stage: { __typename?: 'Stage', id: string }, customer: { __typename?: 'Customer', id: string, name: string } | null, stageHistory: Array<{ __typename?: 'StageTransition', toStageId: string, at: string }> } | null };

export type FunnelUpdatesSubscriptionVariables = Exact<{
  pipelineId: Scalars['ID']['input'];
  method?: InputMaybe<ConversionMethod>;
  ownerId?: InputMaybe<Scalars['ID']['input']>;
}>;


export type FunnelUpdatesSubscription = { __typename?: 'Subscription', funnelUpdates: { __typename?: 'FunnelReport', method: ConversionMethod, won: number, lost: number, steps: Array<{ __typename?: 'FunnelStep', stageId: string, stageName: string, entered: number, advanced: number, conversionRate: number, cumulativeRate: number }> } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const StagePartsFragmentDoc = new TypedDocumentString(`
    fragment StageParts on Stage {
  id
  name
  order
  probability
  kind
  rottingDays
  retired
}
    `, {"fragmentName":"StageParts"}) as unknown as TypedDocumentString<StagePartsFragment, unknown>;
export const MoneyPartsFragmentDoc = new TypedDocumentString(`
    fragment MoneyParts on Money {
  amount
  currency
}
    `, {"fragmentName":"MoneyParts"}) as unknown as TypedDocumentString<MoneyPartsFragment, unknown>;
export const CardPartsFragmentDoc = new TypedDocumentString(`
    fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}`, {"fragmentName":"CardParts"}) as unknown as TypedDocumentString<CardPartsFragment, unknown>;
export const ColumnPartsFragmentDoc = new TypedDocumentString(`
    fragment ColumnParts on BoardColumn {
  stage {
    ...StageParts
  }
  count
  totalAmount {
    ...MoneyParts
  }
  weightedAmount {
    ...MoneyParts
  }
  opportunities(first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        ...CardParts
      }
    }
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment StageParts on Stage {
  id
  name
  order
  probability
  kind
  rottingDays
  retired
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}`, {"fragmentName":"ColumnParts"}) as unknown as TypedDocumentString<ColumnPartsFragment, unknown>;
export const CustomerRowFragmentDoc = new TypedDocumentString(`
    fragment CustomerRow on Customer {
  id
  kind
  name
  email
  phone
  lifecycle
  ownerId
  tags
  createdAt
  updatedAt
  company {
    id
    name
  }
}
    `, {"fragmentName":"CustomerRow"}) as unknown as TypedDocumentString<CustomerRowFragment, unknown>;
export const PipelinesDocument = new TypedDocumentString(`
    query Pipelines {
  pipelines {
    id
    name
    version
    stages(includeRetired: false) {
      ...StageParts
    }
  }
}
    fragment StageParts on Stage {
  id
  name
  order
  probability
  kind
  rottingDays
  retired
}`) as unknown as TypedDocumentString<PipelinesQuery, PipelinesQueryVariables>;
export const BoardDocument = new TypedDocumentString(`
    query Board($pipelineId: ID!, $filter: BoardFilter, $first: Int = 40, $after: String) {
  board(pipelineId: $pipelineId, filter: $filter, includeClosed: true) {
    pipeline {
      id
      name
      version
    }
    columns {
      ...ColumnParts
    }
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment StageParts on Stage {
  id
  name
  order
  probability
  kind
  rottingDays
  retired
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}
fragment ColumnParts on BoardColumn {
  stage {
    ...StageParts
  }
  count
  totalAmount {
    ...MoneyParts
  }
  weightedAmount {
    ...MoneyParts
  }
  opportunities(first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        ...CardParts
      }
    }
  }
}`) as unknown as TypedDocumentString<BoardQuery, BoardQueryVariables>;
export const MoveOpportunityDocument = new TypedDocumentString(`
    mutation MoveOpportunity($id: ID!, $stageId: ID!, $beforeId: ID, $afterId: ID, $expectedVersion: Int) {
  moveOpportunity(
    id: $id
    stageId: $stageId
    beforeId: $beforeId
    afterId: $afterId
    expectedVersion: $expectedVersion
  ) {
    ...CardParts
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}`) as unknown as TypedDocumentString<MoveOpportunityMutation, MoveOpportunityMutationVariables>;
export const WinOpportunityDocument = new TypedDocumentString(`
    mutation WinOpportunity($id: ID!, $expectedVersion: Int) {
  winOpportunity(id: $id, expectedVersion: $expectedVersion) {
    ...CardParts
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}`) as unknown as TypedDocumentString<WinOpportunityMutation, WinOpportunityMutationVariables>;
export const LoseOpportunityDocument = new TypedDocumentString(`
    mutation LoseOpportunity($id: ID!, $reason: String!, $expectedVersion: Int) {
  loseOpportunity(id: $id, reason: $reason, expectedVersion: $expectedVersion) {
    ...CardParts
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}`) as unknown as TypedDocumentString<LoseOpportunityMutation, LoseOpportunityMutationVariables>;
export const ReopenOpportunityDocument = new TypedDocumentString(`
    mutation ReopenOpportunity($id: ID!, $stageId: ID!, $expectedVersion: Int) {
  reopenOpportunity(id: $id, stageId: $stageId, expectedVersion: $expectedVersion) {
    ...CardParts
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}`) as unknown as TypedDocumentString<ReopenOpportunityMutation, ReopenOpportunityMutationVariables>;
export const UpdateOpportunityDocument = new TypedDocumentString(`
    mutation UpdateOpportunity($id: ID!, $input: UpdateOpportunityInput!, $expectedVersion: Int) {
  updateOpportunity(id: $id, input: $input, expectedVersion: $expectedVersion) {
    ...CardParts
    nextStep
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}`) as unknown as TypedDocumentString<UpdateOpportunityMutation, UpdateOpportunityMutationVariables>;
export const OpportunityDocument = new TypedDocumentString(`
    query Opportunity($id: ID!) {
  opportunity(id: $id) {
    ...CardParts
    nextStep
    priority
    createdAt
    closedAt
    pipeline {
      id
      name
      stages {
        ...StageParts
      }
    }
    stage {
      ...StageParts
    }
    stageHistory {
      fromStageId
      toStageId
      at
      actorId
      ownerId
      amount {
        ...MoneyParts
      }
      fromStage {
        name
      }
      toStage {
        name
      }
    }
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment StageParts on Stage {
  id
  name
  order
  probability
  kind
  rottingDays
  retired
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}`) as unknown as TypedDocumentString<OpportunityQuery, OpportunityQueryVariables>;
export const StageChangesDocument = new TypedDocumentString(`
    subscription StageChanges($pipelineId: ID) {
  stageChanges(pipelineId: $pipelineId) {
    eventId
    type
    opportunityId
    pipelineId
    ownerId
    title
    status
    fromStageId
    toStageId
    toStageName
    changedAt
    sequence
    amount {
      ...MoneyParts
    }
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}`) as unknown as TypedDocumentString<StageChangesSubscription, StageChangesSubscriptionVariables>;
export const CustomersDocument = new TypedDocumentString(`
    query Customers($filter: CustomerFilter, $first: Int, $after: String, $sort: CustomerSort) {
  customers(filter: $filter, first: $first, after: $after, sort: $sort) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      cursor
      node {
        ...CustomerRow
      }
    }
  }
}
    fragment CustomerRow on Customer {
  id
  kind
  name
  email
  phone
  lifecycle
  ownerId
  tags
  createdAt
  updatedAt
  company {
    id
    name
  }
}`) as unknown as TypedDocumentString<CustomersQuery, CustomersQueryVariables>;
export const CreateCustomerDocument = new TypedDocumentString(`
    mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    ...CustomerRow
  }
}
    fragment CustomerRow on Customer {
  id
  kind
  name
  email
  phone
  lifecycle
  ownerId
  tags
  createdAt
  updatedAt
  company {
    id
    name
  }
}`) as unknown as TypedDocumentString<CreateCustomerMutation, CreateCustomerMutationVariables>;
export const Customer360Document = new TypedDocumentString(`
    query Customer360($id: ID!) {
  customer(id: $id) {
    ...CustomerRow
    emails
    phones
    externalId
    team
    version
    mergedIds
    lifecycleReason
    lifecycleChangedAt
    attributes
    address {
      street
      city
      postalCode
      region
      country
    }
    source {
      channel
      campaign
      medium
      referrer
    }
    contacts {
      id
      name
      email
      lifecycle
    }
    openPipelineValue {
      ...MoneyParts
    }
    opportunities {
      id
      title
      status
      amount {
        ...MoneyParts
      }
      stage {
        id
        name
        kind
      }
    }
    audit(first: 20) {
      edges {
        node {
          version
          action
          at
          actorId
          actorName
          note
          changes {
            field
            from
            to
          }
        }
      }
    }
  }
  duplicateCandidates(customerId: $id) {
    id
    name
    email
    phone
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment CustomerRow on Customer {
  id
  kind
  name
  email
  phone
  lifecycle
  ownerId
  tags
  createdAt
  updatedAt
  company {
    id
    name
  }
}`) as unknown as TypedDocumentString<Customer360Query, Customer360QueryVariables>;
export const LogInteractionDocument = new TypedDocumentString(`
    mutation LogInteraction($customerId: ID!, $input: InteractionInput!) {
  logInteraction(customerId: $customerId, input: $input) {
    id
    kind
    summary
    occurredAt
  }
}
    `) as unknown as TypedDocumentString<LogInteractionMutation, LogInteractionMutationVariables>;
export const MergeCustomersDocument = new TypedDocumentString(`
    mutation MergeCustomers($targetId: ID!, $sourceIds: [ID!]!, $dryRun: Boolean) {
  mergeCustomers(targetId: $targetId, sourceIds: $sourceIds, dryRun: $dryRun) {
    dryRun
    mergedIds
    movedInteractions
    movedContacts
    changes {
      field
      from
      to
    }
    survivor {
      id
      name
      email
      phones
      emails
      tags
    }
  }
}
    `) as unknown as TypedDocumentString<MergeCustomersMutation, MergeCustomersMutationVariables>;
export const ImportCustomersDocument = new TypedDocumentString(`
    mutation ImportCustomers($csv: String!, $dryRun: Boolean) {
  importCustomers(csv: $csv, dryRun: $dryRun) {
    dryRun
    rows
    created
    updated
    unchanged
    failed
    ignoredColumns
    errors {
      line
      field
      message
    }
  }
}
    `) as unknown as TypedDocumentString<ImportCustomersMutation, ImportCustomersMutationVariables>;
export const FunnelDocument = new TypedDocumentString(`
    query Funnel($pipelineId: ID!, $method: ConversionMethod, $ownerId: ID) {
  funnel(pipelineId: $pipelineId, method: $method, ownerId: $ownerId) {
    method
    won
    lost
    steps {
      stageId
      stageName
      entered
      advanced
      conversionRate
      cumulativeRate
    }
  }
}
    `) as unknown as TypedDocumentString<FunnelQuery, FunnelQueryVariables>;
export const ReportsDocument = new TypedDocumentString(`
    query Reports($pipelineId: ID!, $ownerId: ID, $periodStart: Date!, $periodEnd: Date!, $method: ForecastMethod, $at: DateTime!) {
  stageDurations(pipelineId: $pipelineId, ownerId: $ownerId) {
    stageId
    stageName
    deals
    meanDays
    medianDays
    p90Days
    currentDeals
    idleDeals
    bottleneck
  }
  salesPerformance(pipelineId: $pipelineId, ownerId: $ownerId) {
    openDeals
    won
    lost
    winRate
    avgCycleDays
    medianCycleDays
    wonAmount {
      ...MoneyParts
    }
    avgWonAmount {
      ...MoneyParts
    }
    velocity {
      ...MoneyParts
    }
    winRateByValue {
      currency
      rate
    }
    owners {
      ownerId
      won
      lost
      winRate
      avgCycleDays
    }
  }
  forecast(
    pipelineId: $pipelineId
    periodStart: $periodStart
    periodEnd: $periodEnd
    method: $method
    ownerId: $ownerId
  ) {
    method
    deals
    expected {
      ...MoneyParts
    }
    low {
      ...MoneyParts
    }
    high {
      ...MoneyParts
    }
  }
  pipelineAsOf(pipelineId: $pipelineId, at: $at, ownerId: $ownerId) {
    stageId
    stageName
    kind
    count
    amount {
      ...MoneyParts
    }
    weightedAmount {
      ...MoneyParts
    }
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}`) as unknown as TypedDocumentString<ReportsQuery, ReportsQueryVariables>;
export const BacktestDocument = new TypedDocumentString(`
    query Backtest($pipelineId: ID!, $periods: Int!, $periodDays: Int!) {
  forecastBacktest(
    pipelineId: $pipelineId
    periods: $periods
    periodDays: $periodDays
  ) {
    method
    mape
    periods {
      periodStart
      periodEnd
      error
      expected {
        ...MoneyParts
      }
      actual {
        ...MoneyParts
      }
    }
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}`) as unknown as TypedDocumentString<BacktestQuery, BacktestQueryVariables>;
export const UpdateStageDocument = new TypedDocumentString(`
    mutation UpdateStage($pipelineId: ID!, $stageId: ID!, $input: UpdateStageInput!, $expectedVersion: Int) {
  updateStage(
    pipelineId: $pipelineId
    stageId: $stageId
    input: $input
    expectedVersion: $expectedVersion
  ) {
    id
    version
    stages {
      ...StageParts
    }
  }
}
    fragment StageParts on Stage {
  id
  name
  order
  probability
  kind
  rottingDays
  retired
}`) as unknown as TypedDocumentString<UpdateStageMutation, UpdateStageMutationVariables>;
export const ReorderStagesDocument = new TypedDocumentString(`
    mutation ReorderStages($pipelineId: ID!, $stageIds: [ID!]!, $expectedVersion: Int) {
  reorderStages(
    pipelineId: $pipelineId
    stageIds: $stageIds
    expectedVersion: $expectedVersion
  ) {
    id
    version
    stages {
      ...StageParts
    }
  }
}
    fragment StageParts on Stage {
  id
  name
  order
  probability
  kind
  rottingDays
  retired
}`) as unknown as TypedDocumentString<ReorderStagesMutation, ReorderStagesMutationVariables>;
export const AddStageDocument = new TypedDocumentString(`
    mutation AddStage($pipelineId: ID!, $input: StageInput!, $expectedVersion: Int) {
  addStage(
    pipelineId: $pipelineId
    input: $input
    expectedVersion: $expectedVersion
  ) {
    id
    version
    stages {
      ...StageParts
    }
  }
}
    fragment StageParts on Stage {
  id
  name
  order
  probability
  kind
  rottingDays
  retired
}`) as unknown as TypedDocumentString<AddStageMutation, AddStageMutationVariables>;
export const TimelineDocument = new TypedDocumentString(`
    query Timeline($id: ID!, $kinds: [InteractionKind!], $first: Int = 20, $after: String) {
  customer(id: $id) {
    id
    timeline(first: $first, after: $after, kinds: $kinds) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          kind
          occurredAt
          summary
          actorName
          actorId
          opportunityId
          details
        }
      }
    }
  }
}
    `) as unknown as TypedDocumentString<TimelineQuery, TimelineQueryVariables>;
export const OpportunityCardDocument = new TypedDocumentString(`
    query OpportunityCard($id: ID!) {
  opportunity(id: $id) {
    ...CardParts
  }
}
    fragment MoneyParts on Money {
  amount
  currency
}
fragment CardParts on Opportunity {
  id
  title
  amount {
    ...MoneyParts
  }
  ownerId
  status
  position
  version
  idle
  lostReason
  expectedCloseDate
  stage {
    id
  }
  customer {
    id
    name
  }
  stageHistory {
    toStageId
    at
  }
}`) as unknown as TypedDocumentString<OpportunityCardQuery, OpportunityCardQueryVariables>;
export const FunnelUpdatesDocument = new TypedDocumentString(`
    subscription FunnelUpdates($pipelineId: ID!, $method: ConversionMethod, $ownerId: ID) {
  funnelUpdates(pipelineId: $pipelineId, method: $method, ownerId: $ownerId) {
    method
    won
    lost
    steps {
      stageId
      stageName
      entered
      advanced
      conversionRate
      cumulativeRate
    }
  }
}
    `) as unknown as TypedDocumentString<FunnelUpdatesSubscription, FunnelUpdatesSubscriptionVariables>;