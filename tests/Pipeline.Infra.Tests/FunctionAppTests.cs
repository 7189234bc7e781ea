namespace Pipeline.Infra.Tests;

public sealed class FunctionAppTests(CompiledTemplate template)
{
    private TemplateResource Site => template.SingleOf("Microsoft.Web/sites");

    private Dictionary<string, string> AppSettings =>
        Site.Properties.At("siteConfig", "appSettings").EnumerateArray()
            .ToDictionary(setting => setting.StringAt("name"), setting => setting.StringAt("value"));

    [Fact]
    public void Plan_Sku_IsFlexConsumptionFc1()
    {
        var plan = template.SingleOf("Microsoft.Web/serverfarms");
        Assert.Equal("FC1", plan.Element.StringAt("sku", "name"));
        Assert.Equal("FlexConsumption", plan.Element.StringAt("sku", "tier"));
        Assert.True(plan.Properties.At("reserved").GetBoolean());
    }

    [Fact]
    public void FunctionApp_Default_EnforcesHttpsAndTls12()
    {
        Assert.True(Site.Properties.At("httpsOnly").GetBoolean());
        Assert.Equal("1.2", Site.Properties.StringAt("siteConfig", "minTlsVersion"));
        Assert.Equal("Disabled", Site.Properties.StringAt("siteConfig", "ftpsState"));
    }

    [Fact]
    public void FunctionApp_Runtime_IsDotnetIsolated10()
    {
        var runtime = Site.Properties.At("functionAppConfig", "runtime");
        Assert.Equal("dotnet-isolated", runtime.StringAt("name"));
        Assert.Equal("10.0", runtime.StringAt("version"));
        Assert.Equal("functionapp,linux", Site.Element.StringAt("kind"));
    }

    [Fact]
    public void FunctionApp_HostStorage_IsIdentityBased()
    {
        var settings = AppSettings;
        Assert.DoesNotContain("AzureWebJobsStorage", settings.Keys);
        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]);
        Assert.Equal("[parameters('identityClientId')]", settings["AzureWebJobsStorage__clientId"]);
        Assert.Contains("primaryEndpoints.blob", settings["AzureWebJobsStorage__blobServiceUri"], StringComparison.Ordinal);
        Assert.Contains("primaryEndpoints.queue", settings["AzureWebJobsStorage__queueServiceUri"], StringComparison.Ordinal);
    }

    [Fact]
    public void FunctionApp_AppSettings_ProvideThePipelineStorageContract()
    {
        var settings = AppSettings;
        Assert.Equal("managedidentity", settings["Storage__credential"]);
        Assert.Contains("primaryEndpoints.blob", settings["Storage__BlobServiceUri"], StringComparison.Ordinal);
        Assert.Contains("primaryEndpoints.queue", settings["Storage__QueueServiceUri"], StringComparison.Ordinal);
        Assert.Equal("[parameters('identityClientId')]", settings["AZURE_CLIENT_ID"]);
        Assert.True(Site.Resolve("[parameters('identityClientId')]").ComesFromModule("functions-identity"));
    }

    [Fact]
    public void FunctionApp_Identity_IsTheFunctionsUserAssignedIdentityOnly()
    {
        Assert.Equal("UserAssigned", Site.Element.StringAt("identity", "type"));
        var identities = Site.Element.At("identity", "userAssignedIdentities").EnumerateObject().ToList();
        var identity = Assert.Single(identities);
        Assert.Equal("[format('{0}', parameters('identityId'))]", identity.Name);
        Assert.True(Site.Resolve("[parameters('identityId')]").ComesFromModule("functions-identity"));
    }

    [Fact]
    public void FunctionApp_Deployment_UsesTheIdentityOnTheDeploymentContainer()
    {
        var storage = Site.Properties.At("functionAppConfig", "deployment", "storage");
        Assert.Equal("blobContainer", storage.StringAt("type"));
        Assert.Contains("parameters('deploymentContainerName')", storage.StringAt("value"), StringComparison.Ordinal);
        Assert.Equal("UserAssignedIdentity", storage.StringAt("authentication", "type"));
        Assert.Equal("[parameters('identityId')]", storage.StringAt("authentication", "userAssignedIdentityResourceId"));
        Assert.False(storage.At("authentication").TryGetProperty("storageAccountConnectionStringName", out _));
    }

    [Fact]
    public void FunctionApp_InstanceMemory_Defaults2048AndAllowsOnlyFlexSizes()
    {
        var parameter = template.RootParameter("functionInstanceMemoryMB");
        Assert.Equal(2048, parameter.At("defaultValue").GetInt32());
        Assert.Equal([512, 2048, 4096], parameter.At("allowedValues").EnumerateArray().Select(value => value.GetInt32()));

        var scale = Site.Properties.At("functionAppConfig", "scaleAndConcurrency");
        Assert.Equal("[parameters('instanceMemoryMB')]", scale.StringAt("instanceMemoryMB"));
        Assert.Equal("[parameters('functionInstanceMemoryMB')]", template.Module("functions").ParameterValue("instanceMemoryMB"));
    }

    [Fact]
    public void FunctionApp_AlwaysReady_DefaultsToZeroForTheHttpGroup()
    {
        var parameter = template.RootParameter("alwaysReadyHttpInstances");
        Assert.Equal(0, parameter.At("defaultValue").GetInt32());
        Assert.Equal(0, parameter.At("minValue").GetInt32());

        var alwaysReady = Site.Properties.StringAt("functionAppConfig", "scaleAndConcurrency", "alwaysReady");
        Assert.Contains("'name', 'http'", alwaysReady, StringComparison.Ordinal);
        Assert.Contains("parameters('alwaysReadyHttpInstances')", alwaysReady, StringComparison.Ordinal);
    }

    [Fact]
    public void FunctionApp_Tags_NameTheAzdServiceFunctions()
    {
        Assert.Contains("'azd-service-name'", Site.Element.StringAt("tags"), StringComparison.Ordinal);
        Assert.Equal("functions", template.Module("functions").ParameterValue("serviceName"));
    }
}
