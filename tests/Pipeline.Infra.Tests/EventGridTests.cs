namespace Pipeline.Infra.Tests;

public sealed class EventGridTests(CompiledTemplate template, DeploymentSnapshot snapshot)
{
    private const string BlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
    private const string QueueDataMessageSender = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a";


    private TemplateResource Subscription => Named("raw-blob-created");

    private TemplateResource ScoreSubscription => Named("score-blob-created");

    private TemplateResource Named(string name) =>
        Assert.Single(template.OfType("Microsoft.EventGrid/systemTopics/eventSubscriptions"), s => s.Name.EndsWith(name, StringComparison.Ordinal) || s.Name.Contains($"'{name}'", StringComparison.Ordinal));

    [Fact]
    public void EventSubscriptions_AreOnePerRoutedContainer()
    {
        Assert.Equal(2, template.OfType("Microsoft.EventGrid/systemTopics/eventSubscriptions").Count());
    }

    [Fact]
    public void ScoreSubscription_ForwardsBlobCreatedUnderScore_ToScoreRequests_WithTheEventGridIdentity()
    {
        var filter = ScoreSubscription.Properties.At("filter");
        Assert.Equal("Microsoft.Storage.BlobCreated", Assert.Single(filter.At("includedEventTypes").EnumerateArray()).GetString());
        Assert.Equal("[format('/blobServices/default/containers/{0}/', parameters('scoreContainerName'))]", filter.StringAt("subjectBeginsWith"));
        Assert.Equal("score", template.Module("events").ParameterValue("scoreContainerName"));
        Assert.False(ScoreSubscription.Properties.TryGetProperty("destination", out _), "Delivery must not bypass the identity.");
        var delivery = ScoreSubscription.Properties.At("deliveryWithResourceIdentity");
        Assert.Equal("StorageQueue", delivery.StringAt("destination", "endpointType"));
        Assert.Equal("score-requests", ScoreSubscription.Resolve(delivery.StringAt("destination", "properties", "queueName")));
        Assert.True(ScoreSubscription.Resolve(delivery.StringAt("identity", "userAssignedIdentity")).ComesFromModule("eventgrid-identity"));
    }

    [Fact]
    public void SystemTopic_Source_IsThePipelineStorageAccount()
    {
        var topic = template.SingleOf("Microsoft.EventGrid/systemTopics");
        Assert.Equal("Microsoft.Storage.StorageAccounts", topic.Properties.StringAt("topicType"));
        Assert.Contains("Microsoft.Storage/storageAccounts", topic.Properties.StringAt("source"), StringComparison.Ordinal);
        Assert.Equal("UserAssigned", topic.Element.StringAt("identity", "type"));
    }

    [Fact]
    public void EventSubscription_Destination_IsTheBlobCreatedStorageQueue()
    {
        Assert.False(Subscription.Properties.TryGetProperty("destination", out _), "Delivery must not bypass the identity.");
        var destination = Subscription.Properties.At("deliveryWithResourceIdentity", "destination");
        Assert.Equal("StorageQueue", destination.StringAt("endpointType"));
        Assert.Equal("blob-created", Subscription.Resolve(destination.StringAt("properties", "queueName")));
        Assert.Contains("Microsoft.Storage/storageAccounts", destination.StringAt("properties", "resourceId"), StringComparison.Ordinal);
    }

    [Fact]
    public void EventSubscription_Delivery_UsesTheEventGridIdentity()
    {
        var identity = Subscription.Properties.At("deliveryWithResourceIdentity", "identity");
        Assert.Equal("UserAssigned", identity.StringAt("type"));
        Assert.True(Subscription.Resolve(identity.StringAt("userAssignedIdentity")).ComesFromModule("eventgrid-identity"));
    }

    [Fact]
    public void EventSubscription_Filter_IsBlobCreatedUnderRaw()
    {
        var filter = Subscription.Properties.At("filter");
        var eventType = Assert.Single(filter.At("includedEventTypes").EnumerateArray());
        Assert.Equal("Microsoft.Storage.BlobCreated", eventType.GetString());
        Assert.Equal(
            "[format('/blobServices/default/containers/{0}/', parameters('sourceContainerName'))]",
            filter.StringAt("subjectBeginsWith"));
        Assert.Equal("raw", template.Module("events").ParameterValue("sourceContainerName"));
    }

    [Fact]
    public void EventSubscription_Deployment_WaitsForTheQueueRole()
    {
        var dependsOn = template.Module("events").Element.At("dependsOn").EnumerateArray().Select(value => value.GetString()!);
        Assert.Contains(dependsOn, value => value.Contains("'access')", StringComparison.Ordinal));
    }

    [Fact]
    public void EventSubscriptions_DeadLetter_ToTheDeadLetterContainerOfThePipelineAccount_WithTheEventGridIdentity()
    {
        var subscriptions = snapshot.OfType("Microsoft.EventGrid/systemTopics/eventSubscriptions").ToList();
        Assert.Equal(2, subscriptions.Count);
        foreach (var subscription in subscriptions)
        {
            DeadLettersThroughTheIdentity(subscription);
        }
    }

    private void DeadLettersThroughTheIdentity(SnapshotResource subscription)
    {
        Assert.False(subscription.Properties.TryGetProperty("deadLetterDestination", out _), "Dead-lettering must not bypass the identity.");

        var deadLetter = subscription.Properties.At("deadLetterWithResourceIdentity");
        var topicIdentity = Assert.Single(Assert.Single(snapshot.OfType("Microsoft.EventGrid/systemTopics")).Element.At("identity", "userAssignedIdentities").EnumerateObject()).Name;
        Assert.Equal("UserAssigned", deadLetter.StringAt("identity", "type"));
        Assert.Equal(topicIdentity, deadLetter.StringAt("identity", "userAssignedIdentity"));
        Assert.Contains("/userAssignedIdentities/id-evgt-", topicIdentity, StringComparison.Ordinal);

        var destination = deadLetter.At("deadLetterDestination");
        Assert.Equal("StorageBlob", destination.StringAt("endpointType"));
        Assert.Equal(snapshot.PipelineAccount.Id, destination.StringAt("properties", "resourceId"));
        Assert.Equal("eventgrid-deadletter", destination.StringAt("properties", "blobContainerName"));
        Assert.Contains("eventgrid-deadletter", snapshot.ContainersOf(snapshot.PipelineAccount));
    }

    [Fact]
    public void EventGridIdentity_HasExactlyTheQueueSenderAndTheDeadLetterContainerRoles()
    {
        var identity = Assert.Single(Assert.Single(snapshot.OfType("Microsoft.EventGrid/systemTopics")).Element.At("identity", "userAssignedIdentities").EnumerateObject()).Name;
        var account = snapshot.PipelineAccount.Id;

        var grants = snapshot.RoleAssignments.Where(grant => grant.Principal == identity).OrderBy(grant => grant.Scope, StringComparer.Ordinal);

        Assert.Equal(
            [
                new RoleGrant($"{account}/blobServices/default/containers/eventgrid-deadletter", identity, BlobDataContributor),
                new RoleGrant($"{account}/queueServices/default/queues/blob-created", identity, QueueDataMessageSender),
                new RoleGrant($"{account}/queueServices/default/queues/score-requests", identity, QueueDataMessageSender),
            ],
            grants);
    }

    [Fact]
    public void DeadLetterContainer_OnlyEventGridAndTheDeployer_HaveRolesOnIt()
    {
        var container = $"{snapshot.PipelineAccount.Id}/blobServices/default/containers/eventgrid-deadletter";
        var grants = snapshot.RoleAssignments.Where(grant => grant.IsWithin(container)).ToList();

        Assert.Equal(2, grants.Count);
        Assert.Single(grants, grant => grant.Role == BlobDataContributor && grant.Principal.Contains("/userAssignedIdentities/id-evgt-", StringComparison.Ordinal));
        // The deployer replays dead-lettered events and deletes what it replayed (docs/deploy.md).
        Assert.Single(grants, grant => grant.Role == BlobDataContributor && grant.Principal == DeploymentSnapshot.DeployerPrincipalId);
    }

    [Fact]
    public void DeadLetterContainer_IsTheOneItsRoleIsGrantedOn()
    {
        // The role is granted in app/access.bicep, which the events module waits for (above).
        Assert.Equal("eventgrid-deadletter", template.Module("events").ParameterValue("deadLetterContainerName"));
        Assert.Equal("eventgrid-deadletter", template.Module("access").ParameterValue("deadLetterContainerName"));
    }
}
