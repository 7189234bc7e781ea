// The scoring job: a second event-triggered Container Apps job on the training environment, on its Consumption (CPU)
// workload profile. The functions app's Score hands files larger than it scores (Scoring:MaxFileBytes, 2 GiB) to the
// queue `score-jobs`; KEDA's azure-queue scaler watches it with the scorer's managed identity (no connection-string
// secret), and each execution's replica (`Pipeline.Trainer --once score`, the trainer's code built for CPU) dequeues
// one request, keeps it invisible while it scores the file with the functions app's handler, writes the output and its
// report to `predictions`, and deletes it; a request that cannot succeed goes to `score-jobs-poison` with a report.
@description('Name of the Container Apps environment the training job created (its Consumption profile runs this job).')
param environmentName string

@description('Name of the scoring job (2-32 lower-case alphanumerics and hyphens).')
@minLength(2)
@maxLength(32)
param jobName string

@description('Azure region of the job.')
param location string

@description('Tags applied to the job (it also gets azd-service-name).')
param tags object

@description('Service name in azure.yaml; azd finds the job by this azd-service-name tag.')
param serviceName string

@description('Scoring image (the trainer\'s Dockerfile built for CPU). azd replaces it on deploy; provisioning keeps the last deployed one (SERVICE_SCORER_IMAGE_NAME).')
param image string

@description('Login server of the registry the image is pulled from.')
param registryLoginServer string

@description('Resource ID of the scorer\'s user-assigned identity (registry pull, KEDA scaler, storage).')
param identityId string

@description('Client ID of the scorer\'s user-assigned identity.')
param identityClientId string

@description('Application Insights connection string (ingestion endpoint; local auth is disabled, telemetry carries an Entra token).')
param applicationInsightsConnectionString string

@description('Name of the storage account holding the score-jobs queue.')
param storageAccountName string

@description('Queue of files handed over by the functions app.')
param queueName string

@description('Most scoring executions running at once (one file each).')
@minValue(1)
@maxValue(100)
param maxExecutions int

@description('Seconds a replica may run before it is stopped; sized from the measured scoring rate with a wide margin.')
@minValue(300)
@maxValue(86400)
param replicaTimeoutSeconds int

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' existing = {
  name: environmentName
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
    // The environment's built-in CPU profile: billed per second of use, nothing while idle.
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Event'
      replicaTimeout: replicaTimeoutSeconds
      // The queue is the retry mechanism: a failed replica's message reappears and a new execution takes it.
      replicaRetryLimit: 0
      eventTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: maxExecutions
          pollingInterval: 30
          rules: [
            {
              name: 'score-jobs'
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
          name: 'scorer'
          image: image
          // Appended to the image's entry point (`dotnet Pipeline.Trainer.dll --once`): one score-jobs message, then exit.
          args: [
            'score'
          ]
          // Two cores for the scorer's two stages (read+encode+infer, write); more than one core also gives the
          // replica 8 GiB of ephemeral disk, which holds the input and its output while it is scored (Scoring:MaxJobFileBytes).
          resources: {
            cpu: json('2.0')
            memory: '4Gi'
          }
          env: [
            { name: 'Storage__BlobServiceUri', value: storage.properties.primaryEndpoints.blob }
            { name: 'Storage__QueueServiceUri', value: storage.properties.primaryEndpoints.queue }
            { name: 'AZURE_CLIENT_ID', value: identityClientId }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
          ]
        }
      ]
    }
  }
}

output jobName string = job.name
