// Uploads reach the functions app as Event Grid BlobCreated events written to the storage queue `blob-created`
// (Flex Consumption has no polling blob trigger, and a custom-handler blobTrigger would carry whole blobs in JSON);
// files to score, uploaded to `score`, reach it the same way through a second subscription and queue `score-requests`.
//
// Delivery uses a managed identity (deliveryWithResourceIdentity), never a key. The identity is user-assigned and is
// created - with its only roles, Storage Queue Data Message Sender on both queues and Storage Blob Data Contributor on
// the dead-letter container (app/access.bicep) - before the topic exists, so the subscription is valid in one
// `azd up` pass without waiting for a system-assigned identity to appear and its role to propagate.
//
// An event Event Grid cannot deliver within its retry policy (30 attempts, 24 hours: the queue is unreachable, the role
// is missing, storage throttles) is dead-lettered to a blob in the dead-letter container, written with the same
// identity, instead of being dropped; docs/deploy.md says how to replay it. Both subscriptions dead-letter there.
@description('Name of the Event Grid system topic.')
param topicName string

@description('Azure region; a storage system topic lives in the storage account\'s region.')
param location string

@description('Tags applied to the system topic.')
param tags object

@description('Name of the storage account whose events are published.')
param storageAccountName string

@description('Resource ID of the user-assigned identity Event Grid delivers with.')
param deliveryIdentityId string

@description('Container whose uploads are forwarded.')
param sourceContainerName string

@description('Storage queue the events are written to.')
param destinationQueueName string

@description('Blob container of the same account that undeliverable events are dead-lettered to.')
param deadLetterContainerName string

@description('Container of the files to score (batch scoring).')
param scoreContainerName string

@description('Storage queue the score container\'s events are written to.')
param scoreQueueName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: topicName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${deliveryIdentityId}': {}
    }
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'raw-blob-created'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${sourceContainerName}/'
    }
    deliveryWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: deliveryIdentityId
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: storage.id
          queueName: destinationQueueName
          // -1: messages never expire; the functions host moves failures to blob-created-poison.
          queueMessageTimeToLiveInSeconds: -1
        }
      }
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: deliveryIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

resource scoreRequests 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'score-blob-created'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${scoreContainerName}/'
    }
    deliveryWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: deliveryIdentityId
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: storage.id
          queueName: scoreQueueName
          // -1: messages never expire; the functions host moves failures to score-requests-poison.
          queueMessageTimeToLiveInSeconds: -1
        }
      }
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: deliveryIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output topicName string = topic.name
