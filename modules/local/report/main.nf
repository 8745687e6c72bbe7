process REPORT {
    tag "${meta.tissue}"
    label 'process_medium'

    input:
    // One tissue (meta as MERGE's): MERGE's genes.tsv, drivers.tsv, summary.json (and the
    // motif tables); every STATS <batch>.genedata.npz (phase 1: every gene); every ATTRIBUTION_STATS one
    // ([] when no gene was selected: read after phase 1's, so a selected gene's page shows its attribution)
    tuple val(meta), path(assessment), path(genedata_screen), path(genedata_attribution)
    path attribution        // ISM's saturation and gradient files (the selected genes only)
    path check_summary      // CHECK_INPUTS' check_summary.json
    path run_params         // the run's parameters as JSON (provenance); [] when not known

    output:
    // With tissues under report/<tissue>/
    path "${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/index.html",        emit: index
    path "${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/genes/*.html",      optional: true, emit: gene_pages
    path "${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/figures/**",        emit: figures
    path "${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/data/**",           emit: data
    path 'versions.yml',             emit: versions

    script:
    def args  = task.ext.args ?: ''   // report_genes, report_top_genes (conf/modules.config)
    def ism   = attribution ? "--ism ${attribution}" : ''
    def info  = run_params ? "--run-info ${run_params}" : ''
    """
    seqgx report \\
        --assessment ${assessment} --stats ${genedata_screen} ${genedata_attribution} ${ism} \\
        --check ${check_summary} ${info} \\
        ${args} --threads ${task.cpus} --out ${meta.samplesheet ? 'report/' + meta.tissue : 'report'}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        matplotlib: \$(python -c 'import matplotlib; print(matplotlib.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p ${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/genes ${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/figures ${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/data
    touch ${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/index.html ${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/figures/stub.png ${meta.samplesheet ? 'report/' + meta.tissue : 'report'}/data/stub.tsv
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
