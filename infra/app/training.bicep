// Container Apps environment with workload profiles (Consumption + one serverless GPU profile) and the trainer as an
// event-triggered Container Apps job. KEDA's azure-queue scaler watches `train-requests` with the trainer's managed
// identity (no connection-string secret); each execution's replica dequeues its own message, keeps it invisible while
// it trains, deletes it on success and moves it to `train-requests-poison` after repeated failures.
//
// Logs go to Azure Monitor and from there to Log Analytics through a diagnostic setting, so the template never reads
// the workspace's shared key (no listKeys).
@description('Name of the Container Apps environment.')
param environmentName string

@description('Name of the training job (2-32 lower-case alphanumerics and hyphens).')
@minLength(2)
@maxLength(32)
param jobName string

@description('Azure region of the environment and the job.')
param location string

@description('Tags applied to the environment and the job (the job also gets azd-service-name).')
param tags object

@description('Service name in azure.yaml; azd finds the job by this azd-service-name tag.')
param serviceName string

@description('Resource ID of the Log Analytics workspace that receives the environment\'s logs.')
param logAnalyticsWorkspaceId string

@description('Serverless GPU workload profile type.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfileType string

@description('Trainer image. azd replaces it on deploy; provisioning keeps the last deployed one (SERVICE_TRAINER_IMAGE_NAME).')
param image string

@description('Login server of the registry the image is pulled from.')
param registryLoginServer string

@description('Resource ID of the trainer\'s user-assigned identity (registry pull, KEDA scaler, storage).')
param identityId string

@description('Client ID of the trainer\'s user-assigned identity.')
param identityClientId string

@description('Application Insights connection string (ingestion endpoint; local auth is disabled, telemetry carries an Entra token).')
param applicationInsightsConnectionString string

@description('Name of the storage account holding the train-requests queue.')
param storageAccountName string

@description('Queue that triggers training.')
param queueName string

@description('Replicas started per execution.')
@minValue(1)
@maxValue(10)
param parallelism int

@description('Most executions (GPU replicas) running at once; keep within the subscription\'s serverless GPU quota.')
@minValue(1)
@maxValue(100)
param maxExecutions int

@description('Seconds a replica may run before it is stopped; sized for a training run.')
@minValue(600)
@maxValue(86400)
param replicaTimeoutSeconds int

@description('Times a failed replica is restarted within an execution. 0: the queue is the retry mechanism (the message reappears after its visibility timeout and a new execution picks it up).')
@minValue(0)
@maxValue(10)
param replicaRetryLimit int

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// Largest replica each serverless GPU profile offers (one GPU per replica).
var gpuReplicaSize = {
  'Consumption-GPU-NC8as-T4': {
    cpu: json('8.0')
    memory: '56Gi'
  }
  'Consumption-GPU-NC24-A100': {
    cpu: json('24.0')
    memory: '220Gi'
  }
}

var gpuProfileName = 'gpu'

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
      {
        name: gpuProfileName
        workloadProfileType: gpuProfileType
      }
    ]
    zoneRedundant: false
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: environment
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    // Resource-specific tables (ContainerAppConsoleLogs, ContainerAppSystemLogs) instead of AzureDiagnostics.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource job 'Microsoft.App/jobs@2025-01-01' = {
  name: jobName
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: gpuProfileName
    configuration: {
      triggerType: 'Event'
      replicaTimeout: replicaTimeoutSeconds
      replicaRetryLimit: replicaRetryLimit
      eventTriggerConfig: {
        parallelism: parallelism
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: maxExecutions
          pollingInterval: 30
          rules: [
            {
              name: 'train-requests'
              type: 'azure-queue'
              metadata: {
                accountName: storage.name
                queueName: queueName
                queueLength: '1'
              }
              identity: identityId
            }
          ]
        }
      }
      registries: [
        {
          server: registryLoginServer
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: image
          resources: gpuReplicaSize[gpuProfileType]
          env: [
            { name: 'Storage__BlobServiceUri', value: storage.properties.primaryEndpoints.blob }
            { name: 'Storage__QueueServiceUri', value: storage.properties.primaryEndpoints.queue }
            { name: 'AZURE_CLIENT_ID', value: identityClientId }
            // OpenTelemetry traces, metrics and logs to Application Insights with the identity's token (Monitoring Metrics Publisher).
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
            // The job runs on a GPU profile: a replica without a usable GPU fails loudly instead of training on CPU.
            { name: 'Trainer__Device', value: 'Cuda' }
          ]
        }
      ]
    }
  }
}

output environmentName string = environment.name
output jobName string = job.name
