namespace Pipeline.Infra.Tests;

public sealed class StorageAccountTests(CompiledTemplate template)
{
    private JsonElement Account => template.SingleOf("Microsoft.Storage/storageAccounts").Properties;

    [Fact]
    public void StorageAccount_Default_DisablesSharedKeyAccess()
    {
        Assert.False(Account.At("allowSharedKeyAccess").GetBoolean());
        Assert.True(Account.At("defaultToOAuthAuthentication").GetBoolean());
    }

    [Fact]
    public void StorageAccount_Default_RequiresHttpsAndTls12()
    {
        Assert.True(Account.At("supportsHttpsTrafficOnly").GetBoolean());
        Assert.Equal("TLS1_2", Account.StringAt("minimumTlsVersion"));
    }

    [Fact]
    public void StorageAccount_Default_DisablesPublicBlobAccess()
    {
        Assert.False(Account.At("allowBlobPublicAccess").GetBoolean());
        var containers = template.SingleOf("Microsoft.Storage/storageAccounts/blobServices/containers");
        Assert.Equal("None", containers.Properties.StringAt("publicAccess"));
    }

    [Fact]
    public void StorageModule_Default_CreatesTheContractContainersAndQueues()
    {
        var variables = template.Root.At("variables");
        string[] Names(string variable) => variables.At(variable).EnumerateArray().Select(name => name.GetString()!).ToArray();

        Assert.Equal(["raw", "datasets", "models", "runs", "score", "predictions", "monitoring"], Names("dataContainers"));
        Assert.Equal(["azure-webjobs-hosts", "azure-webjobs-secrets"], Names("hostContainers"));
        Assert.Equal(["blob-created", "blob-created-poison", "train-requests", "train-requests-poison", "score-requests", "score-requests-poison"], Names("queues"));

        var storage = template.Module("storage");
        var containerNames = storage.Properties.StringAt("parameters", "containerNames", "value");
        Assert.Contains("variables('dataContainers')", containerNames, StringComparison.Ordinal);
        Assert.Contains("variables('deploymentContainerName')", containerNames, StringComparison.Ordinal);
        Assert.Contains("variables('servingDeploymentContainerName')", containerNames, StringComparison.Ordinal);
        Assert.Contains("variables('hostContainers')", containerNames, StringComparison.Ordinal);
        Assert.Equal("[variables('queues')]", storage.Properties.StringAt("parameters", "queueNames", "value"));
    }
}
