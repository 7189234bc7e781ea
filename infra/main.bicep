// Serverless event-driven ML pipeline: everything `azd up` creates. Local modules only (no public registry modules),
// so CI compiles and lints the whole template offline (infra/validate.sh, tests/Pipeline.Infra.Tests).
targetScope = 'subscription'

@description('azd environment name; names the resource group rg-<name> and seeds resource names.')
@minLength(1)
@maxLength(40)
param environmentName string

// Only regions where the Learn serverless-GPU table lists both the T4 and the A100 profile, so every allowed
// location/profile pair exists (Flex Consumption is offered in all three). Other GPU regions (for example westus:
// A100 only, westeurope: T4 only) can be added here once checked.
@description('Azure region for every resource. Limited to regions that offer Container Apps serverless GPUs (T4 and A100).')
@allowed([
  'australiaeast'
  'swedencentral'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object ID of the person or pipeline running azd (AZURE_PRINCIPAL_ID). It may upload to raw/ and read models/. Empty: no access granted.')
param principalId string = ''

@description('Type of principalId.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Serverless GPU profile for training: NVIDIA T4 (default, cheaper) or A100.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string = 'Consumption-GPU-NC8as-T4'

@description('Memory per Flex Consumption instance in MB. Flex offers 512, 2048 and 4096.')
@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@description('Most instances the function app scales out to (Flex allows 40-1000).')
@minValue(40)
@maxValue(1000)
param functionMaximumInstanceCount int = 100

@description('Always-ready instances of the serving app (Predict, Models, ...). 0 = scale to zero (Native AOT keeps cold starts short); 1+ removes them and bills while idle.')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int = 0

@description('Percent of predict requests traced to Application Insights (a caller\'s sampled traceparent is always traced). Predict latency and row metrics count every request whatever this is; 100 traces every request and pays for it in ingestion.')
@minValue(0)
@maxValue(100)
param predictTracePercent int = 5

@description('Client ID of an Entra ID app registration that signs users in to the web console (App Service Authentication on the serving app; the API keeps function keys). Empty: no sign-in; the console pages are public and their data still needs a function key. See docs/console.md.')
param consoleSignInClientId string = ''

@description('Training replicas per job execution.')
@minValue(1)
@maxValue(10)
param trainingParallelism int = 1

@description('Most training executions at once (each holds one GPU); keep within your serverless GPU quota.')
@minValue(1)
@maxValue(100)
param trainingMaxExecutions int = 1

@description('Seconds a training replica may run (default 4 hours, at most 24).')
@minValue(600)
@maxValue(86400)
param trainingTimeoutSeconds int = 14400

@description('Restarts of a failed training replica within one execution (0: the queue redelivers instead).')
@minValue(0)
@maxValue(10)
param trainingReplicaRetryLimit int = 0

@description('Most scoring job executions at once (files above the functions app\'s 2 GiB, one per execution).')
@minValue(1)
@maxValue(100)
param scoringMaxExecutions int = 4

// docs/benchmarks.md: ~620 k rows/s end to end, a 2 GiB CSV in ~40 s; the job's largest file (3 GiB,
// Scoring:MaxJobFileBytes) then takes about a minute plus its download and upload: 30 minutes leaves a wide margin for
// a slower replica or a wider model.
@description('Seconds a scoring replica may run (default 30 minutes).')
@minValue(300)
@maxValue(86400)
param scoringTimeoutSeconds int = 1800

@description('Days a deleted blob, blob version or container of the pipeline storage account stays recoverable (soft delete; account-wide).')
@minValue(1)
@maxValue(365)
param blobSoftDeleteDays int = 7

@description('Days the previous versions of raw/ and models/ blobs are kept (versioning is account-wide; previous versions in the other containers are deleted after a day).')
@minValue(1)
@maxValue(3650)
param blobVersionRetentionDays int = 30

@description('Trainer image. Set by azd after the first deploy (SERVICE_TRAINER_IMAGE_NAME); a public placeholder before.')
param trainerImage string = 'mcr.microsoft.com/k8se/quickstart-jobs:latest'

@description('Scoring job image (the trainer\'s Dockerfile built for CPU). Set by azd after the first deploy (SERVICE_SCORER_IMAGE_NAME); a public placeholder before.')
param scorerImage string = 'mcr.microsoft.com/k8se/quickstart-jobs:latest'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
// Names are computed here, not read from module outputs, so What-If can predict every nested deployment.
var storageAccountName = 'st${resourceToken}'
// Each function app's own AzureWebJobsStorage account (keys, locks, package): see the host storage modules below.
var functionsHostStorageAccountName = 'stfunc${resourceToken}'
var servingHostStorageAccountName = 'stserve${resourceToken}'
var registryName = 'cr${resourceToken}'
var applicationInsightsName = 'appi-${resourceToken}'
var tags = {
  'azd-env-name': environmentName
}

// Storage contract (docs/deploy.md): names are part of the product.
var dataContainers = [
  'raw'
  'datasets'
  'models'
  'runs'
  'score'
  'predictions'
  'monitoring'
  'outcomes'
]
// Event Grid writes the BlobCreated events it could not deliver to blob-created here (app/events.bicep).
var deadLetterContainerName = 'eventgrid-deadletter'
// Previous versions of these containers' blobs are kept blobVersionRetentionDays; those of the others for a day.
var versionedContainers = [
  'raw'
  'models'
]
var pipelineContainers = concat(dataContainers, [deadLetterContainerName])
var unversionedPrefixes = map(filter(pipelineContainers, container => !contains(versionedContainers, container)), container => '${container}/')
// In each app's host storage account: the Flex package container, and the Functions host's own containers (the host
// hard-codes these names: locks and leases, function keys), created up front so the app's identity can be given rights
// on exactly these (app/access.bicep).
var deploymentContainerName = 'app-package'
var hostContainers = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
]
var queues = [
  'blob-created'
  'blob-created-poison'
  'train-requests'
  'train-requests-poison'
  'score-requests'
  'score-requests-poison'
  'score-jobs'
  'score-jobs-poison'
  'drift-requests'
  'drift-requests-poison'
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module functionsIdentity 'core/identity.bicep' = {
  name: 'functions-identity'
  scope: rg
  params: {
    name: 'id-func-${resourceToken}'
    location: location
    tags: tags
  }
}

module servingIdentity 'core/identity.bicep' = {
  name: 'serving-identity'
  scope: rg
  params: {
    name: 'id-serve-${resourceToken}'
    location: location
    tags: tags
  }
}

module trainerIdentity 'core/identity.bicep' = {
  name: 'trainer-identity'
  scope: rg
  params: {
    name: 'id-trainer-${resourceToken}'
    location: location
    tags: tags
  }
}

module scorerIdentity 'core/identity.bicep' = {
  name: 'scorer-identity'
  scope: rg
  params: {
    name: 'id-scorer-${resourceToken}'
    location: location
    tags: tags
  }
}

module eventGridIdentity 'core/identity.bicep' = {
  name: 'eventgrid-identity'
  scope: rg
  params: {
    name: 'id-evgt-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitor 'core/monitor.bicep' = {
  name: 'monitor'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: applicationInsightsName
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    containerNames: pipelineContainers
    queueNames: queues
    softDeleteRetentionDays: blobSoftDeleteDays
    versioning: true
    versionRetention: [
      {
        name: 'expire-raw-and-models-versions'
        prefixes: map(versionedContainers, container => '${container}/')
        days: blobVersionRetentionDays
      }
      {
        name: 'expire-other-versions'
        prefixes: unversionedPrefixes
        days: 1
      }
    ]
  }
}

// One host storage account per function app. The Functions host keeps its keys in the container azure-webjobs-secrets
// of its AzureWebJobsStorage account (the name is fixed), so two apps on one account would share that container: the
// app that parses untrusted uploads could read the serving app's keys. Only an app's own identity has roles in its account.
module functionsHostStorage 'core/storage.bicep' = {
  name: 'functions-host-storage'
  scope: rg
  params: {
    name: functionsHostStorageAccountName
    location: location
    tags: tags
    containerNames: concat(hostContainers, [deploymentContainerName])
    queueNames: []
  }
}

module servingHostStorage 'core/storage.bicep' = {
  name: 'serving-host-storage'
  scope: rg
  params: {
    name: servingHostStorageAccountName
    location: location
    tags: tags
    containerNames: concat(hostContainers, [deploymentContainerName])
    queueNames: []
  }
}

module registry 'core/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    name: registryName
    location: location
    tags: tags
  }
}

module access 'app/access.bicep' = {
  name: 'access'
  scope: rg
  params: {
    storageAccountName: storageAccountName
    functionsHostStorageAccountName: functionsHostStorageAccountName
    servingHostStorageAccountName: servingHostStorageAccountName
    registryName: registryName
    applicationInsightsName: applicationInsightsName
    functionsPrincipalId: functionsIdentity.outputs.principalId
    servingPrincipalId: servingIdentity.outputs.principalId
    trainerPrincipalId: trainerIdentity.outputs.principalId
    scorerPrincipalId: scorerIdentity.outputs.principalId
    eventGridPrincipalId: eventGridIdentity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
  }
  dependsOn: [
    storage
    functionsHostStorage
    servingHostStorage
    registry
    monitor
  ]
}

module events 'app/events.bicep' = {
  name: 'events'
  scope: rg
  params: {
    topicName: 'evgt-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storageAccountName
    deliveryIdentityId: eventGridIdentity.outputs.id
    sourceContainerName: 'raw'
    destinationQueueName: 'blob-created'
    deadLetterContainerName: deadLetterContainerName
    scoreContainerName: 'score'
    scoreQueueName: 'score-requests'
  }
  // The subscription validates its destination with the identity: the queue and dead-letter roles must exist first.
  dependsOn: [
    storage
    access
  ]
}

module functions 'app/functions.bicep' = {
  name: 'functions'
  scope: rg
  params: {
    planName: 'plan-${resourceToken}'
    name: 'func-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'functions'
    identityId: functionsIdentity.outputs.id
    identityClientId: functionsIdentity.outputs.clientId
    storageAccountName: storageAccountName
    hostStorageAccountName: functionsHostStorageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitor.outputs.applicationInsightsConnectionString
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    // Preprocess only (queue trigger): nothing to keep warm.
    alwaysReadyHttpInstances: 0
  }
  // The host starts with the identity's storage rights in place (no failed first start).
  dependsOn: [
    storage
    functionsHostStorage
    access
  ]
}

// The serving app: HTTP functions only, a Native AOT custom handler (docs/serving.md, "Why a separate app").
module serving 'app/functions.bicep' = {
  name: 'serving'
  scope: rg
  params: {
    planName: 'plan-serve-${resourceToken}'
    name: 'func-serve-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'serving'
    customHandler: true
    identityId: servingIdentity.outputs.id
    identityClientId: servingIdentity.outputs.clientId
    storageAccountName: storageAccountName
    hostStorageAccountName: servingHostStorageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitor.outputs.applicationInsightsConnectionString
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    traceSamplePercent: predictTracePercent
    signInClientId: consoleSignInClientId
    // Everything under /api is the HTTP API (function keys); the console at /console/ needs a sign-in.
    signInExcludedPaths: [
      '/api/*'
    ]
  }
  dependsOn: [
    storage
    servingHostStorage
    access
  ]
}

module training 'app/training.bicep' = {
  name: 'training'
  scope: rg
  params: {
    environmentName: 'cae-${resourceToken}'
    jobName: 'caj-train-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'trainer'
    logAnalyticsWorkspaceId: monitor.outputs.logAnalyticsId
    gpuProfileType: gpuProfileType
    image: trainerImage
    registryLoginServer: registry.outputs.loginServer
    identityId: trainerIdentity.outputs.id
    identityClientId: trainerIdentity.outputs.clientId
    applicationInsightsConnectionString: monitor.outputs.applicationInsightsConnectionString
    storageAccountName: storageAccountName
    queueName: 'train-requests'
    parallelism: trainingParallelism
    maxExecutions: trainingMaxExecutions
    replicaTimeoutSeconds: trainingTimeoutSeconds
    replicaRetryLimit: trainingReplicaRetryLimit
  }
  // AcrPull and the queue rights must exist before the job pulls its image or KEDA polls the queue.
  dependsOn: [
    storage
    access
  ]
}

module scoring 'app/scoring.bicep' = {
  name: 'scoring'
  scope: rg
  params: {
    environmentName: training.outputs.environmentName
    jobName: 'caj-score-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'scorer'
    image: scorerImage
    registryLoginServer: registry.outputs.loginServer
    identityId: scorerIdentity.outputs.id
    identityClientId: scorerIdentity.outputs.clientId
    applicationInsightsConnectionString: monitor.outputs.applicationInsightsConnectionString
    storageAccountName: storageAccountName
    queueName: 'score-jobs'
    maxExecutions: scoringMaxExecutions
    replicaTimeoutSeconds: scoringTimeoutSeconds
  }
  // AcrPull and the queue rights must exist before the job pulls its image or KEDA polls the queue.
  dependsOn: [
    storage
    access
  ]
}

// Outputs become azd environment values. Names and endpoints only: no keys, no connection strings.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_ENVIRONMENT_NAME string = training.outputs.environmentName
output AZURE_STORAGE_ACCOUNT_NAME string = storageAccountName
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output FUNCTION_APP_NAME string = functions.outputs.name
output FUNCTION_APP_URL string = 'https://${functions.outputs.defaultHostName}'
output SERVING_APP_NAME string = serving.outputs.name
output SERVING_APP_URL string = 'https://${serving.outputs.defaultHostName}'
output TRAINER_JOB_NAME string = training.outputs.jobName
output SCORING_JOB_NAME string = scoring.outputs.jobName
