// A keyless storage account; main.bicep uses it three times: the pipeline's account (the data containers and queues of
// the storage contract, docs/deploy.md), and one host account per function app (its AzureWebJobsStorage containers and
// its Flex deployment container). Shared-key access is disabled, so every caller authenticates with Microsoft Entra ID
// and is authorized by the role assignments in app/access.bicep.
@description('Name of the storage account (3-24 lower-case alphanumerics).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the storage account.')
param location string

@description('Tags applied to the storage account.')
param tags object

@description('Blob containers to create.')
param containerNames string[]

@description('Queues to create.')
param queueNames string[]

@description('Days a deleted blob, blob version or container stays recoverable (soft delete, account-wide). Null: off.')
@minValue(1)
@maxValue(365)
param softDeleteRetentionDays int?

@description('Keep the previous versions of every blob the account holds (blob versioning is an account-wide setting).')
param versioning bool = false

@description('Lifecycle rules that delete previous blob versions: each rule deletes the versions under its prefixes (container/ or container/path) once they are older than its days. Empty: no lifecycle policy.')
param versionRetention versionRetentionRule[] = []

@description('Deletes the previous versions of the blobs under some prefixes after some days.')
type versionRetentionRule = {
  @description('Rule name (letters, digits, hyphens).')
  name: string

  @description('Blob prefixes the rule applies to, each starting with a container name; at most 10.')
  @minLength(1)
  @maxLength(10)
  prefixes: string[]

  @description('Days after its creation a previous version is deleted (lifecycle management runs about once a day).')
  @minValue(0)
  days: int
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: softDeleteRetentionDays == null
      ? { enabled: false }
      : { enabled: true, days: softDeleteRetentionDays }
    containerDeleteRetentionPolicy: softDeleteRetentionDays == null
      ? { enabled: false }
      : { enabled: true, days: softDeleteRetentionDays }
    isVersioningEnabled: versioning
  }
}

// Versioning keeps every overwritten or deleted blob as a previous version, billed like any data: these rules bound it.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = if (!empty(versionRetention)) {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        for rule in versionRetention: {
          name: rule.name
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: rule.prefixes
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: rule.days
                }
              }
            }
          }
        }
      ]
    }
  }
  // Version actions apply to an account with versioning on.
  dependsOn: [
    blobService
  ]
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
