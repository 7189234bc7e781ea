// A Flex Consumption (FC1) plan and one function app; main.bicep uses it twice:
// - `functions`: the preprocessing app, an isolated worker (functions/Pipeline.Functions). The host starts it from the
//   package's worker.config.json and loads the binding extensions the package brings (extensions.json, .azurefunctions/):
//   no extension bundle.
// - `serving`: the HTTP API, a Native AOT custom handler (host.json `customHandler`; customHandler = true here).
//
// Runtime: functionAppConfig.runtime is `dotnet-isolated` 10.0 for both. The host picks the custom-handler dispatcher
// when host.json has `customHandler.description`, whatever the worker runtime (azure-functions-host
// FunctionInvocationDispatcherFactory, HttpWorkerOptionsSetup); HTTP triggers are built into the host. The serving app
// also sets AzureWebJobsFeatureFlags=EnableMcpCustomHandlerPreview, which on Flex makes the host treat the app as worker
// runtime `custom` (host PR 11355, SpecializationE2ETests), the configuration of Microsoft's .NET custom-handler sample on
// Flex. See docs/deploy.md.
//
// Storage: AzureWebJobsStorage (the host's keys and locks) and the Flex package live in the app's own host storage
// account; the app's `Storage` connection (pipeline data, its bindings and SDK clients) is the pipeline account. Both
// are identity-based (no connection string); the identity's rights are granted per container/queue in app/access.bicep.
@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the function app.')
param name string

@description('Azure region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app (the app also gets azd-service-name).')
param tags object

@description('Service name in azure.yaml; azd finds the app by this azd-service-name tag.')
param serviceName string

@description('Resource ID of the app\'s user-assigned identity.')
param identityId string

@description('Client ID of the app\'s user-assigned identity.')
param identityClientId string

@description('Name of the pipeline storage account (the app\'s `Storage` connection).')
param storageAccountName string

@description('Name of the app\'s own host storage account (AzureWebJobsStorage and the deployment package).')
param hostStorageAccountName string

@description('Blob container of the host storage account that Flex Consumption deploys the app package to.')
param deploymentContainerName string

@description('Application Insights connection string (ingestion endpoint; local auth is disabled).')
param applicationInsightsConnectionString string

@description('Memory per instance in MB. Flex Consumption offers 512, 2048 and 4096.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Upper bound of instances the app scales out to (Flex allows 40-1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('True for a custom-handler app (the serving app), false for an isolated-worker app (the preprocessing app).')
param customHandler bool = false

@description('Always-ready instances for the HTTP trigger group (Predict, Models). 0 scales to zero when idle.')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int

@description('Percent of root traces the app exports (OpenTelemetry parent-based trace-id ratio sampler): 100 keeps every trace; a request whose caller sampled its trace is always kept.')
@minValue(0)
@maxValue(100)
param traceSamplePercent int = 100

@description('Client ID of an Entra ID app registration for App Service Authentication (the serving app\'s web console). Empty: no sign-in is configured.')
param signInClientId string = ''

@description('Paths App Service Authentication leaves alone (the HTTP API, whose clients authenticate with function keys).')
param signInExcludedPaths array = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

var blobServiceUri = storage.properties.primaryEndpoints.blob
var queueServiceUri = storage.properties.primaryEndpoints.queue
var hostBlobServiceUri = hostStorage.properties.primaryEndpoints.blob
var hostQueueServiceUri = hostStorage.properties.primaryEndpoints.queue

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Functions host storage (locks, keys) over Entra ID with the user-assigned identity, in the app's own account.
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        { name: 'AzureWebJobsStorage__blobServiceUri', value: hostBlobServiceUri }
        { name: 'AzureWebJobsStorage__queueServiceUri', value: hostQueueServiceUri }
        // The `Storage` connection: the queue trigger and output bindings ([QueueTrigger(..., Connection = "Storage")])
        // and the app's own SDK clients (StorageOptions) read these.
        { name: 'Storage__credential', value: 'managedidentity' }
        { name: 'Storage__clientId', value: identityClientId }
        { name: 'Storage__BlobServiceUri', value: blobServiceUri }
        { name: 'Storage__QueueServiceUri', value: queueServiceUri }
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        // Telemetry is sent with an Entra token of the identity (Monitoring Metrics Publisher); local auth is off.
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        // The OpenTelemetry SDK reads its sampler from these (metrics are not sampled).
        { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' }
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: traceSamplePercent == 100 ? '1' : '0.${padLeft(string(traceSamplePercent), 2, '0')}' }
        // Custom handler on Flex: the host runs the app as worker runtime `custom` (empty for the isolated worker).
        { name: 'AzureWebJobsFeatureFlags', value: customHandler ? 'EnableMcpCustomHandlerPreview' : '' }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostBlobServiceUri}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyHttpInstances > 0
          ? [
              {
                name: 'http'
                instanceCount: alwaysReadyHttpInstances
              }
            ]
          : []
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
  }
}

// App Service Authentication (Easy Auth): every request outside the excluded paths (the console's pages) needs an Entra ID
// sign-in with the given app registration; the excluded paths (the API) keep using function keys. Client ID only, no
// secret: Entra returns an ID token to /.auth/login/aad/callback (the registration must allow ID tokens). No token store:
// the session cookie is all the console needs, and Flex has no file system to keep tokens on. See docs/deploy.md.
resource signIn 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(signInClientId)) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: signInExcludedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: signInClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            signInClientId
            'api://${signInClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
