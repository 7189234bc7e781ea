// Every data-plane permission of the deployment, in one place, each at the narrowest scope Azure accepts: a single blob
// container or a single queue where the data lives; the registry and the Application Insights component otherwise.
// Assignment names are guid(scope, principal, role), so re-running `azd provision` is idempotent.
//
// Who needs what, and why:
//   functions app  raw: read uploads (Blob Data Reader) · datasets: write processed data and manifests (Blob Data
//                  Contributor) · blob-created: the queue trigger
//                  dequeues, deletes and, on failure, updates visibility - Update Message needs messages/write, which
//                  only Queue Data Contributor has · blob-created-poison and train-requests: the host adds messages
//                  (Queue Data Message Sender; both queues exist already, so the host never has to create them).
//                  Batch scoring: score: read files to score (Blob Data Reader) · models: read the model version
//                  (Blob Data Reader) · predictions: write outputs and reports, and delete an output a failed re-upload
//                  leaves stale (Blob Data Contributor) · score-requests: the queue trigger (Queue Data Contributor, as
//                  blob-created) · score-requests-poison: Message Sender · score-jobs: hand files above
//                  Scoring:MaxFileBytes to the scoring job (Queue Data Message Sender; the queue exists already).
//                  Drift reports: monitoring: read prediction logs, write drift reports (Blob Data Contributor) ·
//                  drift-requests: the queue trigger (Queue Data Contributor) · drift-requests-poison: Message Sender ·
//                  outcomes: read labelled outcomes for live accuracy (Blob Data Reader) · retrain on drift reads
//                  raw and datasets and sends on blob-created with the grants of preprocessing.
//                  The DriftSchedule timer's lock is a blob lease in azure-webjobs-hosts (below).
//                  Its own host storage account (AzureWebJobsStorage), nothing in the serving app's: the Flex
//                  deployment container app-package (the platform reads the package and the publish endpoint writes
//                  it with this identity: Blob Data Contributor) and the host's own containers azure-webjobs-hosts
//                  (locks, leases) and azure-webjobs-secrets (function keys): Blob Data Owner, which the Functions
//                  documentation names for AzureWebJobsStorage, but only on those two containers, not the account.
//                  No table rights: nothing here uses Durable Functions or table storage.
//                  App Insights: Monitoring Metrics Publisher (telemetry with an Entra token; local auth is off).
//   serving app    models: read models (Blob Data Reader), and write only */current.json for the SetCurrent rollback
//                  function (Blob Data Contributor with an ABAC condition: no deletes, no other writes) · runs: read
//                  training run status for the Runs function (Blob Data Reader) · datasets: read manifests and
//                  validation and rejection reports for the Datasets functions (Blob Data Reader) · in its own host storage account,
//                  as for the functions app: app-package (Blob Data Contributor), azure-webjobs-hosts and
//                  azure-webjobs-secrets (Blob Data Owner) · App Insights: Metrics Publisher ·
//                  monitoring: write prediction logs (Blob Data Contributor) · predictions: read batch-scoring
//                  reports for the Scoring function, GET /api/scoring (Blob Data Reader).
//   trainer        datasets: read (Blob Data Reader) · models and runs: write (Blob Data Contributor) · train-requests:
//                  dequeue, heartbeat visibility (Update Message: messages/write), delete, and the KEDA scaler reads
//                  the queue length (queues/read): Queue Data Contributor · train-requests-poison: Message Sender ·
//                  registry: AcrPull · App Insights: Metrics Publisher (OpenTelemetry export).
//   scorer         the scoring job (the trainer's code built for CPU, its own identity so it gets none of the
//                  trainer's model-writing rights): score: read files to score (Blob Data Reader) · models: read the
//                  model version (Blob Data Reader) · predictions: write outputs and reports, delete a stale output
//                  (Blob Data Contributor) · score-jobs: dequeue, heartbeat visibility, delete, and the KEDA scaler's
//                  queue length: Queue Data Contributor · score-jobs-poison: Message Sender · registry: AcrPull ·
//                  App Insights: Metrics Publisher.
//   Event Grid     blob-created and score-requests: Queue Data Message Sender · eventgrid-deadletter: Blob Data
//                  Contributor (dead-letter blobs are written with the delivery identity), nothing else.
//   deployer       (optional, AZURE_PRINCIPAL_ID) raw and score: Blob Data Contributor to upload files; models,
//                  predictions, datasets and runs: Blob Data Reader, for the command-line tool (`pipeline --azd`: status,
//                  rejections, runs, report, upload's follow); replaying dead-lettered events: eventgrid-deadletter: Blob
//                  Data Contributor (read, then delete what was replayed), blob-created: Queue Data Message Sender ·
//                  `pipeline drift`: drift-requests: Queue Data Message Sender, monitoring: Blob Data Reader ·
//                  outcomes: Blob Data Contributor to upload labelled outcomes.
//
// The two function apps' host accounts are separate (main.bicep): no identity has any role on the other app's.
@description('Name of the pipeline storage account.')
param storageAccountName string

@description('Name of the functions app\'s host storage account (AzureWebJobsStorage, package).')
param functionsHostStorageAccountName string

@description('Name of the serving app\'s host storage account (AzureWebJobsStorage, package).')
param servingHostStorageAccountName string

@description('Name of the container registry.')
param registryName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Principal ID of the functions app identity.')
param functionsPrincipalId string

@description('Principal ID of the serving app identity.')
param servingPrincipalId string

@description('Principal ID of the trainer identity.')
param trainerPrincipalId string

@description('Principal ID of the scoring job identity.')
param scorerPrincipalId string

@description('Principal ID of the identity Event Grid delivers with.')
param eventGridPrincipalId string

@description('Principal ID of the person or pipeline running azd; empty grants nothing.')
param deployerPrincipalId string

@description('Type of the deployer principal.')
@allowed([
  'User'
  'ServicePrincipal'
])
param deployerPrincipalType string

@description('Blob container of each host storage account that the app\'s Flex Consumption package is deployed to.')
param deploymentContainerName string

@description('Blob container of the pipeline account that Event Grid dead-letters undeliverable events to.')
param deadLetterContainerName string

// Built-in role definition IDs (learn.microsoft.com: Azure built-in roles).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// ABAC: deny deletes; allow blob writes only where the blob path ends in /current.json.
var currentPointerWritesOnly = '((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete\'}))) AND ((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write\'}) AND !(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action\'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike \'*/current.json\'))'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource raw 'containers' existing = {
      name: 'raw'
    }
    resource datasets 'containers' existing = {
      name: 'datasets'
    }
    resource models 'containers' existing = {
      name: 'models'
    }
    resource runs 'containers' existing = {
      name: 'runs'
    }
    resource deadLetter 'containers' existing = {
      name: deadLetterContainerName
    }
    resource score 'containers' existing = {
      name: 'score'
    }
    resource predictions 'containers' existing = {
      name: 'predictions'
    }
    resource monitoring 'containers' existing = {
      name: 'monitoring'
    }
    resource outcomes 'containers' existing = {
      name: 'outcomes'
    }
  }

  resource queueService 'queueServices' existing = {
    name: 'default'

    resource blobCreated 'queues' existing = {
      name: 'blob-created'
    }
    resource blobCreatedPoison 'queues' existing = {
      name: 'blob-created-poison'
    }
    resource trainRequests 'queues' existing = {
      name: 'train-requests'
    }
    resource trainRequestsPoison 'queues' existing = {
      name: 'train-requests-poison'
    }
    resource scoreRequests 'queues' existing = {
      name: 'score-requests'
    }
    resource scoreRequestsPoison 'queues' existing = {
      name: 'score-requests-poison'
    }
    resource scoreJobs 'queues' existing = {
      name: 'score-jobs'
    }
    resource scoreJobsPoison 'queues' existing = {
      name: 'score-jobs-poison'
    }
    resource driftRequests 'queues' existing = {
      name: 'drift-requests'
    }
    resource driftRequestsPoison 'queues' existing = {
      name: 'drift-requests-poison'
    }
  }
}

resource functionsHostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: functionsHostStorageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deployment 'containers' existing = {
      name: deploymentContainerName
    }
    resource webjobsHosts 'containers' existing = {
      name: 'azure-webjobs-hosts'
    }
    resource webjobsSecrets 'containers' existing = {
      name: 'azure-webjobs-secrets'
    }
  }
}

resource servingHostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: servingHostStorageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deployment 'containers' existing = {
      name: deploymentContainerName
    }
    resource webjobsHosts 'containers' existing = {
      name: 'azure-webjobs-hosts'
    }
    resource webjobsSecrets 'containers' existing = {
      name: 'azure-webjobs-secrets'
    }
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---- functions app -------------------------------------------------------------------------------------------------

resource functionsRawReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::raw.id, functionsPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::raw
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsDatasetsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::datasets.id, functionsPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::datasets
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource servingModelsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::models.id, servingPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::models
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The Runs function (GET /api/runs/{id}, GET /api/runs?model=) reads the status documents the trainer writes.
resource servingRunsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::runs.id, servingPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::runs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The Datasets functions (GET /api/datasets/…, the console's dataset pages) read dataset manifests, validation reports
// and rejection reports.
resource servingDatasetsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::datasets.id, servingPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::datasets
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The SetCurrent function (POST /api/models/{name}/current, admin key) moves a model's current.json for rollbacks.
// Blob Data Contributor on `models`, narrowed by an ABAC condition: no deletes, and writes only to blobs named
// */current.json, so the app still cannot change a model file or manifest.
resource servingModelsPointerWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::models.id, servingPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::models
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
    conditionVersion: '2.0'
    condition: currentPointerWritesOnly
  }
}

// The Scoring function (GET /api/scoring, the console's batch-scoring page) reads the reports beside the outputs.
resource servingPredictionsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::predictions.id, servingPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::predictions
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The prediction log (functions/Pipeline.Serving/Monitoring) writes monitoring/{model}/{version}/{date}/….jsonl.gz.
resource servingMonitoringContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::monitoring.id, servingPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::monitoring
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsDeploymentContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(functionsHostStorage::blobService::deployment.id, functionsPrincipalId, roles.storageBlobDataContributor)
  scope: functionsHostStorage::blobService::deployment
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsHostsOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(functionsHostStorage::blobService::webjobsHosts.id, functionsPrincipalId, roles.storageBlobDataOwner)
  scope: functionsHostStorage::blobService::webjobsHosts
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsSecretsOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(functionsHostStorage::blobService::webjobsSecrets.id, functionsPrincipalId, roles.storageBlobDataOwner)
  scope: functionsHostStorage::blobService::webjobsSecrets
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsBlobCreatedContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::blobCreated.id, functionsPrincipalId, roles.storageQueueDataContributor)
  scope: storage::queueService::blobCreated
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsBlobCreatedPoisonSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::blobCreatedPoison.id, functionsPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::blobCreatedPoison
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsTrainRequestsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::trainRequests.id, functionsPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::trainRequests
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Batch scoring (the Score function): reads score/ and the model, writes predictions/.
resource functionsScoreReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::score.id, functionsPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::score
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsModelsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::models.id, functionsPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::models
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsPredictionsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::predictions.id, functionsPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::predictions
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsScoreRequestsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::scoreRequests.id, functionsPrincipalId, roles.storageQueueDataContributor)
  scope: storage::queueService::scoreRequests
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsScoreRequestsPoisonSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::scoreRequestsPoison.id, functionsPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::scoreRequestsPoison
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Live accuracy in drift reports: read the labelled outcomes uploaded to outcomes/{model}/.
resource functionsOutcomesReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::outcomes.id, functionsPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::outcomes
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Files above Scoring:MaxFileBytes are handed to the scoring job.
resource functionsScoreJobsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::scoreJobs.id, functionsPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::scoreJobs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Drift reports (the DriftSchedule timer and the DriftRequest queue trigger): read prediction logs and write
// monitoring/{model}/drift/ (models and predictions are read with the grants above).
resource functionsMonitoringContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::monitoring.id, functionsPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::monitoring
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsDriftRequestsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::driftRequests.id, functionsPrincipalId, roles.storageQueueDataContributor)
  scope: storage::queueService::driftRequests
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsDriftRequestsPoisonSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::driftRequestsPoison.id, functionsPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::driftRequestsPoison
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, functionsPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- serving app (functions/Pipeline.Serving) ----------------------------------------------------------------------
// Reads models; moves current.json only (above); in its own host storage account, its Flex package container and the
// Functions host's own containers; telemetry.
resource servingDeploymentContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(servingHostStorage::blobService::deployment.id, servingPrincipalId, roles.storageBlobDataContributor)
  scope: servingHostStorage::blobService::deployment
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource servingHostsOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(servingHostStorage::blobService::webjobsHosts.id, servingPrincipalId, roles.storageBlobDataOwner)
  scope: servingHostStorage::blobService::webjobsHosts
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource servingSecretsOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(servingHostStorage::blobService::webjobsSecrets.id, servingPrincipalId, roles.storageBlobDataOwner)
  scope: servingHostStorage::blobService::webjobsSecrets
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource servingMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, servingPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: servingPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- trainer -------------------------------------------------------------------------------------------------------

resource trainerDatasetsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::datasets.id, trainerPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::datasets
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerModelsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::models.id, trainerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::models
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerRunsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::runs.id, trainerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::runs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerTrainRequestsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::trainRequests.id, trainerPrincipalId, roles.storageQueueDataContributor)
  scope: storage::queueService::trainRequests
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerTrainRequestsPoisonSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::trainRequestsPoison.id, trainerPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::trainRequestsPoison
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, trainerPrincipalId, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, trainerPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- scorer (the scoring job) --------------------------------------------------------------------------------------

resource scorerScoreReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::score.id, scorerPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::score
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: scorerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource scorerModelsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::models.id, scorerPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::models
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: scorerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource scorerPredictionsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::predictions.id, scorerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::predictions
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: scorerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource scorerScoreJobsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::scoreJobs.id, scorerPrincipalId, roles.storageQueueDataContributor)
  scope: storage::queueService::scoreJobs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: scorerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource scorerScoreJobsPoisonSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::scoreJobsPoison.id, scorerPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::scoreJobsPoison
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: scorerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource scorerAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, scorerPrincipalId, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: scorerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource scorerMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, scorerPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: scorerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Event Grid ----------------------------------------------------------------------------------------------------

resource eventGridBlobCreatedSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::blobCreated.id, eventGridPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::blobCreated
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Dead-lettering: Event Grid writes an undeliverable event as a blob in this container with the same identity.
resource eventGridDeadLetterContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::deadLetter.id, eventGridPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::deadLetter
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource eventGridScoreRequestsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::queueService::scoreRequests.id, eventGridPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::scoreRequests
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- deployer (optional) -------------------------------------------------------------------------------------------

resource deployerRawContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::raw.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::raw
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerModelsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::models.id, deployerPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::models
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

// Replaying dead-lettered events (docs/deploy.md): read them, put them back on blob-created, delete the replayed blob.
resource deployerDeadLetterContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::deadLetter.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::deadLetter
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerScoreContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::score.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::score
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerOutcomesContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::outcomes.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: storage::blobService::outcomes
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerBlobCreatedSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::queueService::blobCreated.id, deployerPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::blobCreated
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

// The command-line tool reads dataset reports and run status for whoever deployed (docs/cli.md).
resource deployerDatasetsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::datasets.id, deployerPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::datasets
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerRunsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::runs.id, deployerPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::runs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

// `pipeline drift MODEL`: asks for a report on queue drift-requests and reads it from monitoring/{model}/drift/.
resource deployerDriftRequestsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::queueService::driftRequests.id, deployerPrincipalId, roles.storageQueueDataMessageSender)
  scope: storage::queueService::driftRequests
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerMonitoringReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::monitoring.id, deployerPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::monitoring
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource deployerPredictionsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(storage::blobService::predictions.id, deployerPrincipalId, roles.storageBlobDataReader)
  scope: storage::blobService::predictions
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
