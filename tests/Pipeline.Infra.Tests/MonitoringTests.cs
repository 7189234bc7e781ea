namespace Pipeline.Infra.Tests;

public sealed class MonitoringTests(CompiledTemplate template)
{
    [Fact]
    public void ApplicationInsights_Default_DisablesLocalAuth()
    {
        var component = template.SingleOf("Microsoft.Insights/components");
        Assert.True(component.Properties.At("DisableLocalAuth").GetBoolean());
    }

    [Fact]
    public void LogAnalytics_Default_DisablesLocalAuth()
    {
        var workspace = template.SingleOf("Microsoft.OperationalInsights/workspaces");
        Assert.True(workspace.Properties.At("features", "disableLocalAuth").GetBoolean());
    }

    [Fact]
    public void FunctionApp_Telemetry_AuthenticatesWithEntraId()
    {
        foreach (var site in template.OfType("Microsoft.Web/sites"))
        {
            var settings = site.Properties.At("siteConfig", "appSettings").EnumerateArray()
                .ToDictionary(setting => setting.StringAt("name"), setting => setting.StringAt("value"));
            Assert.Contains("Authorization=AAD", settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"], StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// The serving app traces a share of its predict requests (<c>predictTracePercent</c>, 5 by default; metrics count
    /// every request); the preprocessing app traces every upload.
    /// </summary>
    [Fact]
    public void FunctionApps_TraceSampler_ServingSamplesPredicts_PreprocessingKeepsEveryUpload()
    {
        foreach (var site in template.OfType("Microsoft.Web/sites"))
        {
            var settings = site.Properties.At("siteConfig", "appSettings").EnumerateArray()
                .ToDictionary(setting => setting.StringAt("name"), setting => setting.StringAt("value"));
            Assert.Equal("parentbased_traceidratio", settings["OTEL_TRACES_SAMPLER"]);
            Assert.Contains("parameters('traceSamplePercent')", settings["OTEL_TRACES_SAMPLER_ARG"], StringComparison.Ordinal);
        }

        Assert.Equal("[parameters('predictTracePercent')]", template.Module("serving").ParameterValue("traceSamplePercent"));
        Assert.Throws<KeyNotFoundException>(() => template.Module("functions").ParameterValue("traceSamplePercent"));
        var parameter = template.RootParameter("predictTracePercent");
        Assert.Equal(5, parameter.At("defaultValue").GetInt32());
        Assert.Equal(100, parameter.At("maxValue").GetInt32());
    }

    [Fact]
    public void Jobs_Telemetry_GoesToTheMonitorModulesApplicationInsights()
    {
        // OpenTelemetry in the trainer and the scoring job exports there with the identity named by AZURE_CLIENT_ID
        // (Monitoring Metrics Publisher: RoleAssignmentTests).
        var jobs = template.OfType("Microsoft.App/jobs").ToList();
        Assert.Equal(2, jobs.Count);
        foreach (var job in jobs)
        {
            var environment = job.Properties.At("template", "containers").EnumerateArray().Single().At("env").EnumerateArray()
                .ToDictionary(setting => setting.StringAt("name"), setting => setting.StringAt("value"));
            Assert.True(job.Resolve(environment["APPLICATIONINSIGHTS_CONNECTION_STRING"]).ComesFromModule("monitor"));
        }
    }

    [Fact]
    public void ContainerAppsEnvironment_Logs_AreShippedWithoutTheWorkspaceKey()
    {
        var environment = template.SingleOf("Microsoft.App/managedEnvironments");
        var logs = environment.Properties.At("appLogsConfiguration");
        Assert.Equal("azure-monitor", logs.StringAt("destination"));
        Assert.False(logs.TryGetProperty("logAnalyticsConfiguration", out _));

        var diagnostics = template.SingleOf("Microsoft.Insights/diagnosticSettings");
        Assert.Contains("Microsoft.App/managedEnvironments", diagnostics.Element.StringAt("scope"), StringComparison.Ordinal);
        Assert.True(diagnostics.Resolve(diagnostics.Properties.StringAt("workspaceId")).ComesFromModule("monitor"));
    }
}
