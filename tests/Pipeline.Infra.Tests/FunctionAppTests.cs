namespace Pipeline.Infra.Tests;

/// <summary>
/// Both Flex Consumption apps: <c>functions</c> (Preprocess, an isolated worker) and <c>serving</c> (the HTTP API, a Native
/// AOT custom handler), each a use of app/functions.bicep with its own plan, identity and host storage account (holding its
/// AzureWebJobsStorage containers and its package container; see HostStorageTests).
/// </summary>
public sealed class FunctionAppTests(CompiledTemplate template)
{
    /// <summary>Module name → the identity module its app runs as.</summary>
    public static readonly TheoryData<string, string> Apps = new() { { "functions", "functions-identity" }, { "serving", "serving-identity" } };

    private TemplateResource Site => template.SingleOf("Microsoft.Web/sites", "functions");

    private Dictionary<string, string> AppSettings => SettingsOf(Site);

    /// <summary>The app's own host storage account, as app/functions.bicep names it.</summary>
    private const string HostAccount = "resourceId('Microsoft.Storage/storageAccounts', parameters('hostStorageAccountName'))";

    private static Dictionary<string, string> SettingsOf(TemplateResource site) =>
        site.Properties.At("siteConfig", "appSettings").EnumerateArray()
            .ToDictionary(setting => setting.StringAt("name"), setting => setting.StringAt("value"));

    [Fact]
    public void Deployment_HasExactlyTheFunctionsAndServingApps()
    {
        Assert.Equal(["functions", "serving"], template.OfType("Microsoft.Web/sites").Select(site => site.Deployment!.Name).Order());
        Assert.Equal(2, template.OfType("Microsoft.Web/serverfarms").Count());
    }

    [Theory]
    [MemberData(nameof(Apps))]
    public void App_RunsAsItsOwnIdentity_WithItsOwnHostStorage(string module, string identity)
    {
        var site = template.SingleOf("Microsoft.Web/sites", module);
        var settings = SettingsOf(site);

        Assert.True(site.Resolve("[parameters('identityId')]").ComesFromModule(identity));
        Assert.True(site.Resolve("[parameters('identityClientId')]").ComesFromModule(identity));
        Assert.Equal("managedidentity", settings["Storage__credential"]);
        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]);
        Assert.Equal("app-package", template.Module(module).ParameterValue("deploymentContainerName"));
        Assert.Equal(template.Module($"{module}-host-storage").ParameterValue("name"), template.Module(module).ParameterValue("hostStorageAccountName"));
        Assert.Equal(module, template.Module(module).ParameterValue("serviceName"));
    }

    [Fact]
    public void AlwaysReady_AppliesToTheServingApp_NotToPreprocess()
    {
        Assert.Equal("[parameters('alwaysReadyHttpInstances')]", template.Module("serving").ParameterValue("alwaysReadyHttpInstances"));
        Assert.Equal("0", template.Module("functions").ParameterValue("alwaysReadyHttpInstances"));
    }

    [Fact]
    public void Plan_Sku_IsFlexConsumptionFc1()
    {
        var plan = template.SingleOf("Microsoft.Web/serverfarms", "functions");
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
        Assert.Equal($"[reference({HostAccount}, '2023-05-01').primaryEndpoints.blob]", settings["AzureWebJobsStorage__blobServiceUri"]);
        Assert.Equal($"[reference({HostAccount}, '2023-05-01').primaryEndpoints.queue]", settings["AzureWebJobsStorage__queueServiceUri"]);
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
        Assert.Contains($"reference({HostAccount}, '2023-05-01').primaryEndpoints.blob", storage.StringAt("value"), StringComparison.Ordinal);
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

        var alwaysReady = template.SingleOf("Microsoft.Web/sites", "serving").Properties.StringAt("functionAppConfig", "scaleAndConcurrency", "alwaysReady");
        Assert.Contains("'name', 'http'", alwaysReady, StringComparison.Ordinal);
        Assert.Contains("parameters('alwaysReadyHttpInstances')", alwaysReady, StringComparison.Ordinal);
    }

    [Fact]
    public void FunctionApp_Tags_NameTheAzdServiceFunctions()
    {
        Assert.Contains("'azd-service-name'", Site.Element.StringAt("tags"), StringComparison.Ordinal);
        Assert.Equal("functions", template.Module("functions").ParameterValue("serviceName"));
    }

    [Fact]
    public void FeatureFlag_CustomHandlerOnFlex_IsSetOnTheServingAppOnly()
    {
        Assert.Equal("[if(parameters('customHandler'), 'EnableMcpCustomHandlerPreview', '')]", AppSettings["AzureWebJobsFeatureFlags"]);
        Assert.Equal("true", template.Module("serving").ParameterValue("customHandler"));
        Assert.False(template.Module("functions").Properties.GetProperty("parameters").TryGetProperty("customHandler", out _), "the isolated worker app runs as dotnet-isolated");
    }
}
