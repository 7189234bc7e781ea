namespace Pipeline.Infra.Tests;

/// <summary>The three storage accounts (pipeline data, and one host account per function app) use one module, core/storage.bicep.</summary>
public sealed class StorageAccountTests(CompiledTemplate template, DeploymentSnapshot snapshot)
{
    private JsonElement Account => template.SingleOf("Microsoft.Storage/storageAccounts", "storage").Properties;

    [Fact]
    public void StorageAccounts_All_UseTheOneHardenedModule()
    {
        Assert.Equal(
            ["functions-host-storage", "serving-host-storage", "storage"],
            template.OfType("Microsoft.Storage/storageAccounts").Select(account => account.Deployment!.Name).Order(StringComparer.Ordinal));
        Assert.Equal(3, snapshot.StorageAccounts.Count());
    }

    [Fact]
    public void StorageAccount_Default_DisablesSharedKeyAccess()
    {
        Assert.False(Account.At("allowSharedKeyAccess").GetBoolean());
        Assert.True(Account.At("defaultToOAuthAuthentication").GetBoolean());
        Assert.All(snapshot.StorageAccounts, account => Assert.False(account.Properties.At("allowSharedKeyAccess").GetBoolean()));
    }

    [Fact]
    public void StorageAccount_Default_RequiresHttpsAndTls12()
    {
        Assert.True(Account.At("supportsHttpsTrafficOnly").GetBoolean());
        Assert.Equal("TLS1_2", Account.StringAt("minimumTlsVersion"));
        Assert.All(snapshot.StorageAccounts, account => Assert.Equal("TLS1_2", account.Properties.StringAt("minimumTlsVersion")));
    }

    [Fact]
    public void StorageAccount_Default_DisablesPublicBlobAccess()
    {
        Assert.False(Account.At("allowBlobPublicAccess").GetBoolean());
        var containers = template.SingleOf("Microsoft.Storage/storageAccounts/blobServices/containers", "storage");
        Assert.Equal("None", containers.Properties.StringAt("publicAccess"));
        Assert.All(snapshot.StorageAccounts, account => Assert.False(account.Properties.At("allowBlobPublicAccess").GetBoolean()));
        Assert.All(snapshot.OfType("Microsoft.Storage/storageAccounts/blobServices/containers"), container => Assert.Equal("None", container.Properties.StringAt("publicAccess")));
    }

    [Fact]
    public void StorageAccount_Names_AreWithinTheNamingRules()
    {
        // 3-24 lower-case letters and digits, globally unique: a prefix and the 13-character resource token.
        Assert.All(snapshot.StorageAccounts, account => Assert.Matches("^[a-z0-9]{3,24}$", account.Name));
        Assert.Equal(3, snapshot.StorageAccounts.Select(account => account.Name).Distinct().Count());
    }

    [Fact]
    public void StorageModule_Default_CreatesTheContractContainersAndQueues()
    {
        var variables = template.Root.At("variables");
        string[] Names(string variable) => variables.At(variable).EnumerateArray().Select(name => name.GetString()!).ToArray();

        Assert.Equal(["raw", "datasets", "models", "runs", "score", "predictions", "monitoring", "outcomes"], Names("dataContainers"));
        Assert.Equal(["azure-webjobs-hosts", "azure-webjobs-secrets"], Names("hostContainers"));
        Assert.Equal(["blob-created", "blob-created-poison", "train-requests", "train-requests-poison", "score-requests", "score-requests-poison", "score-jobs", "score-jobs-poison", "drift-requests", "drift-requests-poison"], Names("queues"));

        var storage = template.Module("storage");
        Assert.Equal("[variables('pipelineContainers')]", storage.Properties.StringAt("parameters", "containerNames", "value"));
        Assert.Equal("[variables('queues')]", storage.Properties.StringAt("parameters", "queueNames", "value"));

        // Predicted: the contract's containers and the dead-letter container in the pipeline account, and no other.
        Assert.Equal(
            ["datasets", "eventgrid-deadletter", "models", "monitoring", "outcomes", "predictions", "raw", "runs", "score"],
            snapshot.ContainersOf(snapshot.PipelineAccount).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void PipelineAccount_DeletedBlobsAndContainers_AreSoftDeletedFor7DaysByDefault()
    {
        var blobService = Assert.Single(snapshot.OfType("Microsoft.Storage/storageAccounts/blobServices"), service => service.Id == snapshot.PipelineAccount.Id + "/blobServices/default");
        foreach (var policy in new[] { "deleteRetentionPolicy", "containerDeleteRetentionPolicy" })
        {
            Assert.True(blobService.Properties.At(policy, "enabled").GetBoolean(), policy);
            Assert.Equal(7, blobService.Properties.At(policy, "days").GetInt32());
        }

        var parameter = template.RootParameter("blobSoftDeleteDays");
        Assert.Equal(7, parameter.At("defaultValue").GetInt32());
        Assert.Equal(1, parameter.At("minValue").GetInt32());
    }

    [Fact]
    public void PipelineAccount_Versioning_IsOn()
    {
        var blobService = Assert.Single(snapshot.OfType("Microsoft.Storage/storageAccounts/blobServices"), service => service.Id == snapshot.PipelineAccount.Id + "/blobServices/default");
        Assert.True(blobService.Properties.At("isVersioningEnabled").GetBoolean());
    }

    [Fact]
    public void PipelineAccount_PreviousVersions_ExpireByLifecycleRules_RawAndModelsAfter30Days_OthersAfterADay()
    {
        var policy = Assert.Single(snapshot.OfType("Microsoft.Storage/storageAccounts/managementPolicies"));
        Assert.Equal(snapshot.PipelineAccount.Id + "/managementPolicies/default", policy.Id);

        var expiry = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var rule in policy.Properties.At("policy", "rules").EnumerateArray())
        {
            Assert.True(rule.At("enabled").GetBoolean());
            var days = rule.At("definition", "actions", "version", "delete", "daysAfterCreationGreaterThan").GetInt32();
            foreach (var prefix in rule.At("definition", "filters", "prefixMatch").EnumerateArray().Select(prefix => prefix.GetString()!))
            {
                // Each container in exactly one rule: overlapping rules would make the shorter expiry win.
                Assert.True(expiry.TryAdd(prefix, days), $"{prefix} is in two rules");
            }
        }

        var expected = snapshot.ContainersOf(snapshot.PipelineAccount)
            .ToDictionary(container => $"{container}/", container => container is "raw" or "models" ? 30 : 1, StringComparer.Ordinal);
        Assert.Equal(expected.OrderBy(pair => pair.Key, StringComparer.Ordinal), expiry.OrderBy(pair => pair.Key, StringComparer.Ordinal));
        Assert.Equal(30, template.RootParameter("blobVersionRetentionDays").At("defaultValue").GetInt32());
    }

    [Fact]
    public void HostAccounts_KeepNoVersionsOrSoftDeletedBlobs()
    {
        var pipelineService = snapshot.PipelineAccount.Id + "/blobServices/default";
        var hostServices = snapshot.OfType("Microsoft.Storage/storageAccounts/blobServices").Where(service => service.Id != pipelineService).ToList();

        Assert.Equal(2, hostServices.Count);
        Assert.All(hostServices, service =>
        {
            Assert.False(service.Properties.At("isVersioningEnabled").GetBoolean());
            Assert.False(service.Properties.At("deleteRetentionPolicy", "enabled").GetBoolean());
        });
    }
}
