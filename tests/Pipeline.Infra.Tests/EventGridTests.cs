namespace Pipeline.Infra.Tests;

public sealed class EventGridTests(CompiledTemplate template)
{
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
}
